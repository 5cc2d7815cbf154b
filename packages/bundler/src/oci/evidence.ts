import {
  AirgapError,
  DIGEST_PATTERN,
  headerValue,
  MANIFEST_ACCEPT,
  MANIFEST_TYPES,
  OCI_INDEX,
  RegistryError,
  withRetries,
  type BundleEvidence,
  type Descriptor,
  type ImageReference,
  type LockedEvidence,
  type RegistryClient,
} from '@airgap/core';
import type { BlobCache } from './blob-cache.ts';
import type { PullListener } from './pull-events.ts';
import type { ResolvedImage } from './pull-image.ts';
import { fetchManifest, MAX_MANIFEST_BYTES, type FetchedManifest } from './fetch-manifest.ts';

/**
 * cosign's tag scheme: the evidence of `sha256:<hex>` sits in the same repository under
 * `sha256-<hex>.sig|.att|.sbom` (sigstore/cosign pkg/oci/remote/remote.go `SignatureTag`,
 * `AttestationTag`, `SBOMTag`: the digest with ':' → '-' plus the suffix).
 */
const COSIGN_SUFFIXES = [
  ['sig', 'cosign-sig'],
  ['att', 'cosign-att'],
  ['sbom', 'cosign-sbom'],
] as const;

/**
 * The referrers tag schema (opencontainers/distribution-spec v1.1.0 spec.md, "Referrers Tag
 * Schema" under "Unavailable Referrers API"): `<alg>-<ref>`, the digest's algorithm, a dash and its
 * encoded part (64 hex for sha256, under the 128-character tag limit, so never truncated).
 */
export const referrersTag = (digest: string) => digest.replace(':', '-');
export const cosignTag = (digest: string, suffix: 'sig' | 'att' | 'sbom') => `${referrersTag(digest)}.${suffix}`;

export interface FoundEvidence {
  evidence: BundleEvidence[];
  /** The evidence manifests (and the fallback index), bytes exactly as served. */
  manifests: Map<string, Buffer>;
  /** Their configs and layers. */
  blobs: Descriptor[];
}

export interface FindEvidenceOptions {
  client: RegistryClient;
  cache: BlobCache;
  repository: string;
  /** For messages: the image as the spec names it. */
  image: string;
  /** The upstream manifest digests of the image (root and carried children). */
  subjects: readonly string[];
  onRetry?: (what: string, attempt: number, reason: string) => void;
}

/**
 * The evidence published beside an image: for each subject digest, cosign's three tags, and its
 * referrers: the referrers API where the registry has one, else the fallback tag's index.
 */
export async function findEvidence(o: FindEvidenceOptions): Promise<FoundEvidence> {
  const found = collector(o.image);
  for (const subject of o.subjects) {
    for (const [suffix, kind] of COSIGN_SUFFIXES) {
      const tag = cosignTag(subject, suffix);
      const m = await optionalManifest(o, tag);
      if (m && MANIFEST_TYPES.has(m.mediaType)) found.add(m, { kind, subject, tag });
    }
    const listed = await referrersOf(o, subject);
    if (listed.fallback) found.add(listed.fallback, { kind: 'referrers-tag', subject, tag: referrersTag(subject) });
    for (const d of listed.descriptors) {
      // A manifest, or an index (a multi-part artifact: an attestations bundle) carried with its child manifests.
      if ((!MANIFEST_TYPES.has(d.mediaType) && d.mediaType !== OCI_INDEX) || !DIGEST_PATTERN.test(d.digest)) continue;
      const m = await get(o, d.digest);
      const artifactType = typeof d.artifactType === 'string' ? d.artifactType : artifactTypeOf(m.bytes);
      found.add(m, { kind: 'referrer', subject, ...(artifactType ? { artifactType } : {}) });
      await withChildren(o, found, m);
    }
  }
  return found.result();
}

/** Evidence as it is found: its manifests, their blobs each once, and how upstream had each. */
function collector(image: string) {
  const out: FoundEvidence = { evidence: [], manifests: new Map(), blobs: [] };
  const blobs = new Map<string, Descriptor>();
  /** A manifest carried, with its blobs; alone (without an evidence entry) for a child of an index referrer. */
  const child = (m: FetchedManifest): void => {
    out.manifests.set(m.digest, m.bytes);
    if (MANIFEST_TYPES.has(m.mediaType)) for (const d of manifestBlobs(m, image)) blobs.set(d.digest, d);
  };
  return {
    add(m: FetchedManifest, e: Pick<BundleEvidence, 'kind' | 'subject' | 'tag' | 'artifactType'>): void {
      child(m);
      out.evidence.push({
        kind: e.kind,
        subject: e.subject,
        ...(e.tag ? { tag: e.tag } : {}),
        digest: m.digest,
        size: m.bytes.length,
        mediaType: m.mediaType,
        ...(e.artifactType ? { artifactType: e.artifactType } : {}),
      });
    },
    child,
    result: (): FoundEvidence => ({ ...out, blobs: [...blobs.values()] }),
  };
}

/**
 * An index referrer's child manifests (and through `child`, their blobs): carried so `applier
 * push` can put them before the index (a registry refuses an index whose children it lacks) and
 * `serve` can answer them by digest. One level, as for images; a nested index is refused.
 */
async function withChildren(o: FindEvidenceOptions, found: ReturnType<typeof collector>, m: FetchedManifest): Promise<void> {
  if (m.mediaType !== OCI_INDEX) return;
  for (const d of indexDescriptors(m.bytes, `${o.image}: referrer ${m.digest}`)) {
    if (!MANIFEST_TYPES.has(d.mediaType) || !DIGEST_PATTERN.test(d.digest))
      throw new AirgapError('REGISTRY_FAILED', `${o.image}: referrer index ${m.digest} lists ${d.digest} of type ${d.mediaType}`, {
        hint: 'airgap carries index referrers one level deep, of sha256 manifests; set images.evidence: false to leave the evidence behind',
      });
    const child = await get(o, d.digest);
    if (child.bytes.length !== d.size)
      throw new AirgapError('SIZE_MISMATCH', `${o.image}: manifest ${d.digest} is ${child.bytes.length} bytes, referrer index ${m.digest} says ${d.size}`);
    found.child(child);
  }
}

/**
 * The image with its evidence added: manifests beside its own, blobs each once (a blob the image
 * already has, or two signatures share, is pulled and carried once). The subjects are the upstream
 * manifests the image carries; the bundler's subset index is no upstream digest, so none signs it.
 */
export async function withEvidence(
  image: ResolvedImage,
  o: { ref: ImageReference; client: RegistryClient; cache: BlobCache; locked?: readonly LockedEvidence[]; onEvent?: PullListener },
): Promise<ResolvedImage> {
  const subjects = [...image.manifests.keys()].filter((d) => d !== image.subset?.digest);
  const onEvent = o.onEvent;
  const find: FindEvidenceOptions = {
    client: o.client,
    cache: o.cache,
    repository: o.ref.repository,
    image: image.ref,
    subjects,
    ...(onEvent ? { onRetry: (what: string, attempt: number, reason: string) => onEvent({ type: 'retry', what, attempt, reason }) } : {}),
  };
  const found = o.locked ? await lockedEvidence(find, o.locked) : await findEvidence(find);
  if (found.evidence.length === 0) return image;
  const manifests = new Map([...image.manifests, ...found.manifests]);
  const blobs = new Map(image.blobs.map((b) => [b.digest, b]));
  for (const b of found.blobs) if (!blobs.has(b.digest)) blobs.set(b.digest, b);
  return { ...image, manifests, blobs: [...blobs.values()], evidence: found.evidence };
}

/**
 * The evidence the lock pins (`--frozen`): each manifest by its digest (from the cache when held,
 * so a warm frozen build asks the registry nothing), the rest read from it. Evidence about a
 * manifest the build does not carry (another platform's) is left out.
 */
async function lockedEvidence(o: FindEvidenceOptions, locked: readonly LockedEvidence[]): Promise<FoundEvidence> {
  const found = collector(o.image);
  for (const l of locked) {
    if (!o.subjects.includes(l.subject)) continue;
    const m = await get(o, l.digest);
    const artifactType = l.kind === 'referrer' ? artifactTypeOf(m.bytes) : undefined;
    found.add(m, { kind: l.kind, subject: l.subject, ...(l.tag ? { tag: l.tag } : {}), ...(artifactType ? { artifactType } : {}) });
    if (l.kind === 'referrer') await withChildren(o, found, m);
  }
  return found.result();
}

/** A referrer's artifactType as the referrers API lists it: its own, else its config's media type (image-spec manifest.md). */
export function artifactTypeOf(bytes: Buffer): string | undefined {
  const doc = JSON.parse(bytes.toString('utf8')) as { artifactType?: unknown; config?: { mediaType?: unknown } };
  if (typeof doc.artifactType === 'string') return doc.artifactType;
  return typeof doc.config?.mediaType === 'string' ? doc.config.mediaType : undefined;
}

type ListedDescriptor = Descriptor & { artifactType?: unknown };

/**
 * `GET /v2/<name>/referrers/<digest>` (distribution-spec v1.1.0 "Listing Referrers"): a registry
 * with the API answers 200 and an image index, even when empty; one without answers 404, and then
 * the client reads the fallback tag instead ("Unavailable Referrers API"). distribution 2.8 has no
 * such route, so it answers 404.
 */
async function referrersOf(o: FindEvidenceOptions, subject: string): Promise<{ descriptors: ListedDescriptor[]; fallback?: FetchedManifest }> {
  // The client retries 5xx, 429 and network errors itself; any other answer is final.
  const res = await o.client.request({
    method: 'GET',
    path: `/v2/${o.repository}/referrers/${subject}`,
    repository: o.repository,
    scope: 'pull',
    headers: { accept: OCI_INDEX },
    what: o.image,
  });
  if (res.status === 200) {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const c of res.body as AsyncIterable<Buffer>) {
      size += c.length;
      if (size > MAX_MANIFEST_BYTES)
        throw new AirgapError('REGISTRY_FAILED', `${o.image}: the referrers list of ${subject} is over ${MAX_MANIFEST_BYTES} bytes`);
      chunks.push(c);
    }
    return { descriptors: indexDescriptors(Buffer.concat(chunks), `${o.image}: the referrers list of ${subject}`) };
  }
  await res.body.dump();
  const fallback = await optionalManifest(o, referrersTag(subject));
  if (!fallback || fallback.mediaType !== OCI_INDEX) return { descriptors: [] };
  return { descriptors: indexDescriptors(fallback.bytes, `${o.image}: the referrers tag ${referrersTag(subject)}`), fallback };
}

function indexDescriptors(bytes: Buffer, what: string): ListedDescriptor[] {
  let doc: { manifests?: unknown };
  try {
    doc = JSON.parse(bytes.toString('utf8')) as typeof doc;
  } catch {
    throw new AirgapError('REGISTRY_FAILED', `${what} is not JSON`, { hint: 'check the registry endpoint' });
  }
  if (!Array.isArray(doc.manifests)) return [];
  return (doc.manifests as ListedDescriptor[]).filter((d) => d && typeof d.digest === 'string' && typeof d.mediaType === 'string');
}

const get = (o: FindEvidenceOptions, reference: string) =>
  withRetries(
    o.client.retry,
    `${o.image} evidence`,
    () => fetchManifest({ client: o.client, cache: o.cache, repository: o.repository, reference, image: o.image }),
    o.onRetry ? { onRetry: o.onRetry } : {},
  );

/**
 * A manifest by tag, or undefined when the registry has none under it (404: no such evidence).
 * HEAD first: most images have no evidence, a HEAD is cheap (Docker Hub does not count it against
 * the pull limit), and the digest it names comes from the cache when a build already holds it.
 */
async function optionalManifest(o: FindEvidenceOptions, tag: string): Promise<FetchedManifest | undefined> {
  const head = await o.client.request({
    method: 'HEAD',
    path: `/v2/${o.repository}/manifests/${tag}`,
    repository: o.repository,
    scope: 'pull',
    headers: { accept: MANIFEST_ACCEPT },
    what: o.image,
  });
  await head.body.dump();
  if (head.status === 404) return undefined;
  const named = head.status === 200 ? headerValue(head.headers['docker-content-digest']) : undefined;
  try {
    // By digest it is checked against that digest; a registry that names none is asked by tag.
    return await get(o, named && DIGEST_PATTERN.test(named) ? named : tag);
  } catch (err) {
    if (err instanceof RegistryError && err.code === 'IMAGE_NOT_FOUND') return undefined;
    throw err;
  }
}

function manifestBlobs(m: FetchedManifest, image: string): Descriptor[] {
  const doc = JSON.parse(m.bytes.toString('utf8')) as { config?: Descriptor; layers?: Descriptor[] };
  const out: Descriptor[] = [];
  for (const d of [...(doc.config ? [doc.config] : []), ...(doc.layers ?? [])]) {
    if (typeof d.digest !== 'string' || !DIGEST_PATTERN.test(d.digest) || typeof d.size !== 'number' || !Number.isSafeInteger(d.size) || d.size < 0)
      throw new AirgapError('REGISTRY_FAILED', `${image}: evidence manifest ${m.digest} has a malformed descriptor`, {
        hint: 'airgap carries sha256 content only; set images.evidence: false to leave the evidence behind',
      });
    out.push({ mediaType: d.mediaType, digest: d.digest, size: d.size });
  }
  return out;
}
