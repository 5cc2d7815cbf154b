import { createHash } from 'node:crypto';
import type { BundleSource } from './bundle-source.ts';
import type { BundleManifest, OmittedEntry } from './manifest.ts';

/** What a delta is planned against: the base's verified manifest (from the bundle or its signed head) and its digest (hex). */
export interface DeltaBase {
  manifest: BundleManifest;
  digest: string;
}

export interface PlannedDelta {
  manifest: Omit<BundleManifest, 'entries'>;
  /** The sources still written into the tar. */
  sources: BundleSource[];
  omitted: OmittedEntry[];
}

/**
 * Leave out of a bundle what its base already carries, byte for byte (docs/bundle-format.md,
 * "Delta bundles"): image config and layer blobs (those an image manifest of this bundle names),
 * and snap files of the same name, revision, SHA3-384 and size, each only when the base carries an
 * entry at the same path with the same sha256. Manifests and indexes of images, index.json,
 * assertions, hosts files, configs and applier executables always stay: they are small, and the
 * node reads them to decide what to do. Only entries the base carries count, not what the base
 * itself left out: a node that has the base, or the base file, has every omitted byte.
 */
export function planDelta(o: { manifest: Omit<BundleManifest, 'entries'>; sources: readonly BundleSource[]; base: DeltaBase }): PlannedDelta {
  const carried = new Map(o.base.manifest.entries.map((e) => [e.path, e]));
  const leaves = leafBlobPaths(o.manifest, o.sources);
  const baseSnaps = new Map(o.base.manifest.snaps.map((s) => [s.snapPath, s]));
  const snaps = new Map(o.manifest.snaps.map((s) => [s.snapPath, s]));
  const omitted: OmittedEntry[] = [];
  const sources: BundleSource[] = [];
  for (const source of o.sources) {
    const have = carried.get(source.path);
    let leaveOut = false;
    if (have && leaves.has(source.path)) {
      leaveOut = sourceSha256(source) === have.sha256;
    } else if (have && snaps.has(source.path)) {
      const s = snaps.get(source.path)!;
      const b = baseSnaps.get(source.path);
      // A snap file's sha256 is known only once copied; its SHA3-384 and size are in both manifests.
      leaveOut = b !== undefined && b.sha3_384 === s.sha3_384 && b.size === s.size && have.size === s.size;
    }
    if (leaveOut) omitted.push({ path: source.path, sha256: have!.sha256, size: have!.size });
    else sources.push(source);
  }
  omitted.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const b = o.base.manifest;
  return {
    manifest: {
      ...o.manifest,
      base: { name: b.name, digest: `sha256:${o.base.digest}`, ...(b.sequence !== undefined ? { sequence: b.sequence } : {}), omitted },
    },
    sources,
    omitted,
  };
}

/** Entry paths of the config and layer blobs the image manifests among `sources` name. */
function leafBlobPaths(manifest: Omit<BundleManifest, 'entries'>, sources: readonly BundleSource[]): Set<string> {
  const out = new Set<string>();
  const layout = manifest.imageLayout;
  if (!layout) return out;
  const prefix = `${layout}/blobs/sha256/`;
  for (const s of sources) {
    if (!s.path.startsWith(prefix) || !('data' in s)) continue;
    const doc = parseJson(s.data) as { config?: { digest?: unknown }; layers?: { digest?: unknown }[] } | undefined;
    if (!doc?.config || typeof doc.config.digest !== 'string') continue;
    for (const d of [doc.config, ...(Array.isArray(doc.layers) ? doc.layers : [])]) {
      if (typeof d.digest === 'string' && d.digest.startsWith('sha256:')) out.add(`${prefix}${d.digest.slice(7)}`);
    }
  }
  return out;
}

function parseJson(data: Uint8Array): unknown {
  try {
    return JSON.parse(Buffer.from(data).toString('utf8'));
  } catch {
    return undefined;
  }
}

function sourceSha256(s: BundleSource): string | undefined {
  if ('data' in s) return createHash('sha256').update(s.data).digest('hex');
  return s.sha256;
}

/** Every entry the bundle has, in the tar or left out for its base to supply: path → size. */
export function entrySizes(manifest: Pick<BundleManifest, 'entries' | 'base'>): Map<string, number> {
  return new Map([...manifest.entries, ...(manifest.base?.omitted ?? [])].map((e) => [e.path, e.size]));
}

/** Bytes a delta leaves out. */
export function omittedBytes(manifest: Pick<BundleManifest, 'base'>): number {
  return (manifest.base?.omitted ?? []).reduce((n, e) => n + e.size, 0);
}
