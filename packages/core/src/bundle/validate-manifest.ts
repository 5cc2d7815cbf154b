import { AirgapError } from '../errors.ts';
import { INDEX_TYPES, MANIFEST_TYPES } from '../oci/media-types.ts';
import { DIGEST_PATTERN, parseReference } from '../oci/reference.ts';
import { entryPathProblem } from './entry-path.ts';
import { FORMAT_VERSION, K8S_DATASTORES, K8S_RELEASES, MANIFEST_PATH, SIGNATURE_PATH, SUMS_PATH, type BundleManifest } from './manifest.ts';

const HEX64 = /^[a-f0-9]{64}$/;

function isCleanAbsolutePath(p: unknown): p is string {
  return typeof p === 'string' && p.startsWith('/') && !p.split('/').some((s) => s === '..' || s === '.');
}

function isImageReference(ref: string): boolean {
  try {
    parseReference(ref);
    return true;
  } catch {
    return false;
  }
}

/**
 * Structural checks of a signed manifest. A trusted signer is not trusted to be bug-free: every
 * path and size is checked before anything is read or written with it.
 */
export function validateManifest(value: unknown): BundleManifest {
  const fail = (what: string): never => {
    throw new AirgapError('BUNDLE_INVALID', `bundle manifest is malformed: ${what}`, { hint: 'rebuild the bundle with a matching `bundler build`' });
  };
  if (typeof value !== 'object' || value === null) return fail('not an object');
  const m = value as Partial<BundleManifest>;
  if (m.formatVersion !== FORMAT_VERSION) return fail(`format version ${String(m.formatVersion)}, this applier reads ${FORMAT_VERSION}`);
  if (!Array.isArray(m.entries) || m.entries.length === 0) return fail('no entries');
  if (!Array.isArray(m.snaps) || !Array.isArray(m.images) || typeof m.containerd !== 'object') return fail('missing snaps, images or containerd');
  const seen = new Set<string>([MANIFEST_PATH, SIGNATURE_PATH]);
  m.entries.forEach((e, i) => {
    if (typeof e !== 'object' || e === null) fail(`entry ${i} is not an object`);
    if (typeof e.path !== 'string') return fail(`entry ${i} has no path`);
    const problem = entryPathProblem(e.path);
    if (problem) {
      throw new AirgapError('PATH_TRAVERSAL', `bundle entry ${JSON.stringify(e.path)} is refused: ${problem}`, { hint: 'the bundle is malformed or hostile' });
    }
    if (seen.has(e.path)) fail(`${e.path} is listed twice`);
    seen.add(e.path);
    if (!Number.isSafeInteger(e.size) || e.size < 0) fail(`${e.path} has an invalid size`);
    if (typeof e.sha256 !== 'string' || !HEX64.test(e.sha256)) fail(`${e.path} has an invalid sha256`);
    if (e.mode !== 0o644 && e.mode !== 0o755) fail(`${e.path} has mode ${String(e.mode)}; only 0644 and 0755 are allowed`);
  });
  if (m.entries[0]?.path !== SUMS_PATH) fail(`first entry must be ${SUMS_PATH}`);
  const hostsDir = m.containerd.hostsDir;
  if (!isCleanAbsolutePath(hostsDir)) fail(`containerd hosts dir ${JSON.stringify(hostsDir)} is not a clean absolute path`);
  // The applier picks datastore ports and containerd's socket from this: only known values.
  if (m.k8s !== undefined) {
    const k = m.k8s as unknown as Partial<Record<string, unknown>> | null;
    if (typeof k !== 'object' || k === null || Array.isArray(k)) fail('k8s is not an object');
    else {
      const extra = Object.keys(k).filter((key) => !['release', 'datastore', 'containerdBaseDir'].includes(key));
      if (extra.length > 0) fail(`k8s has unknown field ${extra.map((e) => JSON.stringify(e)).join(', ')}`);
      if (!(K8S_RELEASES as readonly unknown[]).includes(k.release)) fail(`k8s release ${JSON.stringify(k.release)} is not one of ${K8S_RELEASES.join(', ')}`);
      if (!(K8S_DATASTORES as readonly unknown[]).includes(k.datastore)) fail(`k8s datastore ${JSON.stringify(k.datastore)} is not one of ${K8S_DATASTORES.join(', ')}`);
      if (k.datastore === 'k8s-dqlite' && k.release === '1.36') fail('k8s datastore k8s-dqlite does not exist in 1.36');
      if (k.containerdBaseDir !== undefined && !isCleanAbsolutePath(k.containerdBaseDir)) fail(`k8s containerd base dir ${JSON.stringify(k.containerdBaseDir)} is not a clean absolute path`);
    }
  }
  for (const f of m.containerd.files) {
    const problem = typeof f.target === 'string' ? entryPathProblem(f.target) : 'missing';
    if (problem) throw new AirgapError('PATH_TRAVERSAL', `hosts file target ${JSON.stringify(f.target)} is refused: ${problem}`, { hint: 'the bundle is malformed or hostile' });
  }
  // Image names reach ctr's command line and containerd's store: only well-formed references.
  for (const image of m.images) {
    const ref = (image as { ref?: unknown } | null)?.ref;
    if (typeof ref !== 'string' || !isImageReference(ref)) fail(`image name ${JSON.stringify(ref)} is not a valid image reference`);
    if (typeof image.digest !== 'string' || !DIGEST_PATTERN.test(image.digest)) fail(`image ${String(ref)} has digest ${JSON.stringify(image.digest)}, not sha256:<64 hex>`);
    if (!INDEX_TYPES.has(image.mediaType) && !MANIFEST_TYPES.has(image.mediaType)) fail(`image ${String(ref)} has media type ${JSON.stringify(image.mediaType)}`);
    if (image.subset !== undefined) {
      const s = image.subset as unknown as Partial<Record<string, unknown>> | null;
      if (!INDEX_TYPES.has(image.mediaType) || !parseReference(String(ref)).tag) fail(`image ${String(ref)} has a subset but is not a tagged index`);
      if (typeof s !== 'object' || s === null || typeof s.digest !== 'string' || !DIGEST_PATTERN.test(s.digest) || s.digest === image.digest) fail(`image ${String(ref)} has a malformed subset digest`);
      else if (!Number.isSafeInteger(s.size) || (s.size as number) <= 0 || !Array.isArray(s.platforms) || !s.platforms.every((p) => typeof p === 'string')) fail(`image ${String(ref)} has a malformed subset`);
    }
  }
  const listed = new Set(m.entries.map((e) => e.path));
  const mustExist = [
    ...m.snaps.flatMap((s) => [s.snapPath, s.assertPath]),
    ...m.containerd.files.map((f) => f.path),
    ...(m.bootstrapConfig ? [m.bootstrapConfig] : []),
    ...m.images.flatMap((i) => (i.subset ? [`${String(m.imageLayout)}/blobs/sha256/${i.subset.digest.slice(7)}`] : [])),
  ];
  for (const p of mustExist) if (!listed.has(p)) fail(`${String(p)} is referenced but not an entry`);
  return m as BundleManifest;
}
