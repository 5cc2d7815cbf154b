import type { ErrorObject } from 'ajv';
import { AirgapError } from '../errors.ts';
import { INDEX_TYPES } from '../oci/media-types.ts';
import { parseReference } from '../oci/reference.ts';
import { manifestValidate } from '../util/contract-schemas.ts';
import { describeSchemaError } from '../util/schema-errors.ts';
import { entryPathProblem } from './entry-path.ts';
import { FORMAT_VERSION, MANIFEST_PATH, SIGNATURE_PATH, SUMS_PATH, type BundleManifest } from './manifest.ts';

/** How many schema errors a refusal names; a hostile manifest can have thousands. */
const SHOWN_ERRORS = 3;

/** Fields whose value becomes a path under the bundle's root or the node's hosts dir. */
const PATH_FIELDS = /^\/(?:entries\/\d+\/path|base\/omitted\/\d+\/path|containerd\/files\/\d+\/target)$/;

const malformed = (what: string): AirgapError =>
  new AirgapError('BUNDLE_INVALID', `bundle manifest is malformed: ${what}`, { hint: 'rebuild the bundle with a matching `bundler build`' });

/**
 * The whole signed manifest, checked once before anything reads it: its shape against
 * schemas/bundle-manifest.schema.json (every name, path, digest and mode that reaches a path, an
 * argument or a command), then what a schema cannot say (no entry twice, every referenced entry
 * carried). A trusted signer is not trusted to be bug-free; steps then trust the types they get.
 */
export function validateManifest(value: unknown): BundleManifest {
  const version = (value as { formatVersion?: unknown } | null)?.formatVersion;
  // Another format's manifest would fail the schema everywhere: say what it is instead.
  if (typeof value === 'object' && value !== null && !Array.isArray(value) && version !== FORMAT_VERSION) {
    throw malformed(`format version ${String(version)}, this applier reads ${FORMAT_VERSION}`);
  }
  const validate = manifestValidate();
  if (!validate(value)) throw schemaRefusal(validate.errors ?? []);
  checkEntries(value);
  checkOmitted(value);
  checkImages(value);
  return value;
}

/** An escaping path is PATH_TRAVERSAL, whatever else is wrong; any other problem BUNDLE_INVALID. */
function schemaRefusal(errors: readonly ErrorObject[]): AirgapError {
  for (const e of errors) {
    if (!PATH_FIELDS.test(e.instancePath) || typeof e.data !== 'string') continue;
    const problem = entryPathProblem(e.data);
    if (!problem) continue;
    const what = e.instancePath.startsWith('/containerd/') ? 'hosts file target' : 'bundle entry';
    return new AirgapError('PATH_TRAVERSAL', `${what} ${JSON.stringify(e.data)} is refused: ${problem}`, { hint: 'the bundle is malformed or hostile' });
  }
  // An `if` failure only repeats the `then` error beside it.
  const shown = errors.filter((e) => e.keyword !== 'if');
  const words = shown.slice(0, SHOWN_ERRORS).map((e) => `${e.instancePath || '/'}: ${describeSchemaError(e).message}`);
  const more = shown.length > SHOWN_ERRORS ? `; and ${shown.length - SHOWN_ERRORS} more` : '';
  return malformed(`${words.join('; ')}${more}`);
}

function checkEntries(m: BundleManifest): void {
  if (m.entries[0]?.path !== SUMS_PATH) throw malformed(`first entry must be ${SUMS_PATH}`);
  const seen = new Set<string>([MANIFEST_PATH, SIGNATURE_PATH]);
  for (const e of m.entries) {
    if (seen.has(e.path)) throw malformed(`${e.path} is listed twice`);
    seen.add(e.path);
  }
  // A delta's omitted entries are neither in the tar nor listed twice; what references them still resolves.
  for (const e of m.base?.omitted ?? []) {
    if (seen.has(e.path)) throw malformed(`${e.path} is listed twice`);
    seen.add(e.path);
  }
  const listed = new Set([...m.entries, ...(m.base?.omitted ?? [])].map((e) => e.path));
  const mustExist = [
    ...m.snaps.flatMap((s) => [s.snapPath, s.assertPath]),
    ...m.containerd.files.map((f) => f.path),
    ...(m.bootstrapConfig ? [m.bootstrapConfig] : []),
    ...m.images.flatMap((i) => (i.subset ? [`${String(m.imageLayout)}/blobs/sha256/${i.subset.digest.slice(7)}`] : [])),
  ];
  for (const p of mustExist) if (!listed.has(p)) throw malformed(`${p} is referenced but not an entry`);
}

/** A delta may leave out image blobs (named by their own digest) and snap files, nothing else. */
function checkOmitted(m: BundleManifest): void {
  const snapFiles = new Set(m.snaps.map((s) => s.snapPath));
  for (const e of m.base?.omitted ?? []) {
    const blob = m.imageLayout !== undefined && e.path === `${m.imageLayout}/blobs/sha256/${e.sha256}`;
    if (!blob && !snapFiles.has(e.path)) throw malformed(`base.omitted lists ${e.path}, which is neither an image blob named by its sha256 nor a snap file`);
  }
}

function checkImages(m: BundleManifest): void {
  for (const image of m.images) {
    if (!image.subset) continue;
    if (!INDEX_TYPES.has(image.mediaType) || !parseReference(image.ref).tag) throw malformed(`image ${image.ref} has a subset but is not a tagged index`);
    if (image.subset.digest === image.digest) throw malformed(`image ${image.ref} has a subset digest equal to its own`);
  }
}
