import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import {
  AirgapError,
  DIGEST_PATTERN,
  RegistryError,
  MANIFEST_ACCEPT,
  headerValue,
  INDEX_TYPES,
  MANIFEST_TYPES,
  OCI_INDEX,
  OCI_MANIFEST,
  type RegistryClient,
} from '@airgap/core';
import type { BlobCache } from './blob-cache.ts';

/** The distribution spec lets registries refuse manifests over 4 MiB; we refuse to read more. */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

export interface FetchedManifest {
  /** The bytes exactly as served: their digest is what pods may ask for. */
  bytes: Buffer;
  mediaType: string;
  digest: string;
}

export interface FetchManifestOptions {
  client: RegistryClient;
  cache: BlobCache;
  repository: string;
  /** A tag or a digest. */
  reference: string;
  /** For messages: the image as the spec names it. */
  image: string;
}

/** A manifest or index, by tag or digest, digest-checked; by digest it comes from the cache when held. */
export async function fetchManifest(o: FetchManifestOptions): Promise<FetchedManifest> {
  const byDigest = DIGEST_PATTERN.test(o.reference);
  if (byDigest) {
    const cached = await readFile(o.cache.pathOf(o.reference)).catch(() => undefined);
    if (cached && `sha256:${sha256(cached)}` === o.reference) return { bytes: cached, mediaType: mediaTypeOf(cached, undefined, o.image), digest: o.reference };
  }
  const res = await o.client.request({
    method: 'GET',
    path: `/v2/${o.repository}/manifests/${o.reference}`,
    repository: o.repository,
    scope: 'pull',
    headers: { accept: MANIFEST_ACCEPT },
    what: o.image,
  });
  if (res.status === 404) {
    await res.body.dump();
    throw new RegistryError('IMAGE_NOT_FOUND', `${o.image}: ${o.client.endpoint.registry} has no manifest ${o.reference} (HTTP 404)`, {
      hint: 'check the tag or digest exists (`skopeo inspect docker://<image>`), then fix images.refs',
      ...answered(o, 404),
    });
  }
  if (res.status !== 200) {
    const text = (await res.body.text().catch(() => '')).slice(0, 200);
    throw new RegistryError(
      'REGISTRY_FAILED',
      `${o.image}: ${o.client.endpoint.registry} answered HTTP ${res.status} for manifest ${o.reference}${text ? `: ${text}` : ''}`,
      { hint: 'try again later, or check sources.registries', ...answered(o, res.status) },
    );
  }
  const bytes = await readCapped(res.body, o.image);
  const digest = `sha256:${sha256(bytes)}`;
  const served = headerValue(res.headers['docker-content-digest']);
  if ((byDigest && digest !== o.reference) || (served && DIGEST_PATTERN.test(served) && served !== digest)) {
    throw new RegistryError(
      'DIGEST_MISMATCH',
      `${o.image}: the manifest ${o.client.endpoint.registry} sent hashes to ${digest}, not ${byDigest ? o.reference : served}`,
      {
        hint: 'a proxy or mirror altered it; pull again, or from another endpoint',
        registry: o.client.endpoint.registry,
        phase: 'manifest',
        method: 'GET',
        status: res.status,
        retryable: true,
      },
    );
  }
  const mediaType = mediaTypeOf(bytes, headerValue(res.headers['content-type']), o.image);
  await writeFile(o.cache.pathOf(digest), bytes).catch(() => undefined); // a cache miss next time is all a failure costs
  return { bytes, mediaType, digest };
}

/** The registry answered a manifest GET with `status`: final (the client already retried what is worth it). */
const answered = (o: FetchManifestOptions, status: number) =>
  ({ registry: o.client.endpoint.registry, phase: 'manifest', method: 'GET', status, retryable: false }) as const;

async function readCapped(body: AsyncIterable<Buffer>, image: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.length;
    if (size > MAX_MANIFEST_BYTES)
      throw new AirgapError('REGISTRY_FAILED', `${image}: manifest larger than ${MAX_MANIFEST_BYTES} bytes`, {
        hint: 'this is not an image manifest; check the reference',
      });
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** The document's own mediaType wins over Content-Type (some registries send text/plain). */
function mediaTypeOf(bytes: Buffer, contentType: string | undefined, image: string): string {
  let doc: { mediaType?: unknown; manifests?: unknown; config?: unknown; schemaVersion?: unknown };
  try {
    doc = JSON.parse(bytes.toString('utf8')) as typeof doc;
  } catch {
    throw new AirgapError('REGISTRY_FAILED', `${image}: the manifest is not JSON`, { hint: 'check the registry endpoint' });
  }
  const declared = typeof doc.mediaType === 'string' ? doc.mediaType : contentType?.split(';')[0]?.trim();
  if (declared && (INDEX_TYPES.has(declared) || MANIFEST_TYPES.has(declared))) return declared;
  if (doc.schemaVersion === 1 || declared?.includes('v1+'))
    throw new AirgapError('REGISTRY_FAILED', `${image} is a Docker schema 1 image`, {
      hint: 'schema 1 has no content digests; push the image again with a current tool',
    });
  if (Array.isArray(doc.manifests)) return OCI_INDEX;
  if (doc.config) return OCI_MANIFEST;
  throw new AirgapError('REGISTRY_FAILED', `${image}: unsupported manifest type ${declared ?? 'unknown'}`, {
    hint: 'airgap carries OCI and Docker schema 2 images',
  });
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
