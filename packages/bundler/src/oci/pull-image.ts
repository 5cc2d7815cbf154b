import { readFile } from 'node:fs/promises';
import {
  AirgapError,
  DIGEST_PATTERN,
  INDEX_TYPES,
  MANIFEST_TYPES,
  isAllPlatforms,
  withRetries,
  type BundleEvidence,
  type Descriptor,
  type ImageIndexDoc,
  type ImageManifestDoc,
  type ImageReference,
  type LockedEvidence,
  type RegistryClient,
} from '@airgap/core';
import type { BlobCache } from './blob-cache.ts';
import { withEvidence } from './evidence.ts';
import { fetchManifest, type FetchedManifest } from './fetch-manifest.ts';
import type { PullListener } from './pull-events.ts';
import { formatPlatform, parsePlatform, platformMatches, selectAttestations, selectPlatforms } from './select-platforms.ts';
import { subsetIndex, type SubsetIndex } from './subset-index.ts';

/** An image resolved to its digests: manifests in memory (small), blobs described (in the cache once pulled). */
export interface ResolvedImage {
  ref: string;
  digest: string;
  mediaType: string;
  size: number;
  /** Index and manifests by digest, bytes exactly as served. */
  manifests: Map<string, Buffer>;
  /** Configs and layers. */
  blobs: Descriptor[];
  /** The index of the carried children, when the bundle carries only some (its bytes are in `manifests` too). */
  subset?: SubsetIndex;
  /** Signatures, attestations and SBOMs carried beside it (their manifests are in `manifests`, their blobs in `blobs`). */
  evidence?: BundleEvidence[];
}

export interface ResolveImageOptions {
  ref: ImageReference;
  /** The digest to pull instead of the tag (from the lock with --frozen, or the ref itself). */
  pinned?: string;
  client: RegistryClient;
  cache: BlobCache;
  /** `os/arch` entries, or `['all']`. */
  platforms: readonly string[];
  /** Carry the BuildKit attestation manifests of the chosen platforms (default true). */
  attestations?: boolean;
  /** Carry the signatures, attestations and SBOMs published beside it (default false here; `images.evidence` turns it on). */
  evidence?: boolean;
  /** With `evidence`: exactly these (the lock's, with --frozen) instead of what the registry lists now. */
  lockedEvidence?: readonly LockedEvidence[];
  onEvent?: PullListener;
}

/** Fetch the manifests of one image (the root, then the wanted platforms' manifests). */
export async function resolveImage(o: ResolveImageOptions): Promise<ResolvedImage> {
  const image = o.ref.name;
  const onRetry = (what: string, attempt: number, reason: string) => o.onEvent?.({ type: 'retry', what, attempt, reason });
  const get = (reference: string) =>
    withRetries(
      o.client.retry,
      `${image} manifest`,
      () => fetchManifest({ client: o.client, cache: o.cache, repository: o.ref.repository, reference, image }),
      { onRetry },
    );
  const root = await get(o.pinned ?? o.ref.digest ?? o.ref.tag!);
  const manifests = new Map<string, Buffer>([[root.digest, root.bytes]]);
  let platformManifests: FetchedManifest[] = [root];
  let subset: SubsetIndex | undefined;
  if (INDEX_TYPES.has(root.mediaType)) {
    const index = parseDoc<ImageIndexDoc>(root.bytes, image);
    const children = index.manifests ?? [];
    const platforms = selectPlatforms(image, children, o.platforms);
    const chosen = [...platforms, ...selectAttestations(children, platforms, o.attestations ?? true)];
    subset = subsetIndex(index, chosen);
    if (subset) manifests.set(subset.digest, subset.bytes);
    platformManifests = [];
    for (const d of chosen) {
      if (!MANIFEST_TYPES.has(d.mediaType))
        throw new AirgapError('REGISTRY_FAILED', `${image}: nested index ${d.digest} for ${formatPlatform(d.platform)}`, {
          hint: 'airgap reads one level of index',
        });
      const m = await get(d.digest);
      if (m.bytes.length !== d.size)
        throw new AirgapError('SIZE_MISMATCH', `${image}: manifest ${d.digest} is ${m.bytes.length} bytes, the index says ${d.size}`);
      manifests.set(m.digest, m.bytes);
      platformManifests.push(m);
    }
  }
  const blobs = new Map<string, Descriptor>();
  for (const m of platformManifests) {
    const doc = parseDoc<ImageManifestDoc>(m.bytes, image);
    if (!doc.config) throw new AirgapError('REGISTRY_FAILED', `${image}: manifest ${m.digest} has no config`);
    for (const d of [doc.config, ...(doc.layers ?? [])]) {
      if (typeof d.digest !== 'string' || typeof d.size !== 'number' || !Number.isSafeInteger(d.size) || d.size < 0)
        throw new AirgapError('REGISTRY_FAILED', `${image}: manifest ${m.digest} has a malformed descriptor`);
      if (!DIGEST_PATTERN.test(d.digest))
        throw new AirgapError('REGISTRY_FAILED', `${image}: blob ${d.digest} is not a sha256 digest`, { hint: 'airgap carries sha256 content only' });
      blobs.set(d.digest, { mediaType: d.mediaType, digest: d.digest, size: d.size });
    }
  }
  let resolved: ResolvedImage = {
    ref: image,
    digest: root.digest,
    mediaType: root.mediaType,
    size: root.bytes.length,
    manifests,
    blobs: [...blobs.values()],
    ...(subset ? { subset } : {}),
  };
  // Before the event, so the progress total counts the evidence's blobs too.
  if (o.evidence)
    resolved = await withEvidence(resolved, {
      ref: o.ref,
      client: o.client,
      cache: o.cache,
      ...(o.lockedEvidence ? { locked: o.lockedEvidence } : {}),
      ...(o.onEvent ? { onEvent: o.onEvent } : {}),
    });
  const list = resolved.blobs;
  o.onEvent?.({ type: 'image-resolved', image, digest: root.digest, blobs: list.length, bytes: list.reduce((n, d) => n + d.size, 0) });
  return resolved;
}

/**
 * A single manifest (no index) says its platform only in its config: check it once the config is
 * in the cache, so an arm64-only image never lands in an amd64 bundle unnoticed.
 */
export async function checkSinglePlatform(image: ResolvedImage, cache: BlobCache, platforms: readonly string[]): Promise<void> {
  if (INDEX_TYPES.has(image.mediaType) || isAllPlatforms(platforms)) return;
  const doc = parseDoc<ImageManifestDoc>(image.manifests.get(image.digest)!, image.ref);
  const config = parseDoc<{ os?: string; architecture?: string; variant?: string }>(await readFile(cache.pathOf(doc.config!.digest)), image.ref);
  const have = { os: config.os ?? '', architecture: config.architecture ?? '', ...(config.variant ? { variant: config.variant } : {}) };
  if (!platforms.some((p) => platformMatches(have, parsePlatform(p)))) {
    throw new AirgapError('PLATFORM_NOT_FOUND', `${image.ref} is a single ${formatPlatform(have)} image, not ${platforms.join(' or ')}`, {
      hint: 'use an image built for the bundle platforms, or change images.platforms',
    });
  }
}

function parseDoc<T>(bytes: Buffer, image: string): T {
  try {
    const doc = JSON.parse(bytes.toString('utf8')) as unknown;
    if (!doc || typeof doc !== 'object') throw new Error('not an object');
    return doc as T;
  } catch {
    throw new AirgapError('REGISTRY_FAILED', `${image}: a manifest is not a JSON object`, { hint: 'check the registry endpoint' });
  }
}
