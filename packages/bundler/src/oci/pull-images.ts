import path from 'node:path';
import {
  asIoError,
  authFiles,
  eachLimit,
  createRegistryClient,
  lookupCredentials,
  parseReference,
  type BundleSource,
  type Descriptor,
  type ImageReference,
  type LockedEvidence,
  type RegistryClient,
  type RegistrySource,
  type RetryPolicy,
} from '@airgap/core';
import { openBlobCache } from './blob-cache.ts';
import { imageLayoutSources, imageNames, type NamedImage } from './image-layout.ts';
import type { PullListener } from './pull-events.ts';
import { pullBlob } from './pull-blob.ts';
import { checkSinglePlatform, resolveImage, type ResolvedImage } from './pull-image.ts';
import { endpointFor } from './registry-endpoints.ts';

export interface PullImagesOptions {
  refs: readonly string[];
  /** `os/arch` entries, or `['all']` (every platform of each image). */
  platforms: readonly string[];
  /** Per-ref platforms instead of `platforms` (`images.refs[]` as `{ref, platforms}`). */
  platformsFor?: ReadonlyMap<string, readonly string[]>;
  /** Carry BuildKit attestation manifests of the carried platforms (default true: `images.attestations: keep`). */
  attestations?: boolean;
  /** Carry each image's signatures, attestations and SBOMs (default true: `images.evidence`). */
  evidence?: boolean;
  /** The evidence to carry for a ref instead of what its registry lists now (the lock, with --frozen). */
  evidencePins?: ReadonlyMap<string, readonly LockedEvidence[]>;
  registries?: Readonly<Record<string, RegistrySource>>;
  /** Folder of airgap.yaml: CA paths in sources.registries are relative to it. */
  specDir: string;
  cacheDir: string;
  /** Digest to pull for a ref instead of its tag (the lock, with --frozen). */
  pins?: ReadonlyMap<string, string>;
  /** Resolve digests and check platforms, download no blob (`bundler lock`). */
  resolveOnly?: boolean;
  /** Blob downloads at once (default 6). */
  concurrency?: number;
  onEvent?: PullListener;
  /** Retry policy for every request (default DEFAULT_RETRY). */
  retry?: RetryPolicy;
  /** Credential files to search (default: podman's and docker's, see authFiles). */
  authFiles?: readonly string[];
}

export interface PullImagesResult {
  images: ResolvedImage[];
  /** Every name the images go in under: each ref, and `repo@digest` for tagged ones. */
  names: NamedImage[];
  /** Every host contacted, sorted: what a forward proxy must allow. */
  hosts: string[];
  /** The OCI image layout entries for the bundle (empty with resolveOnly). */
  sources: BundleSource[];
  /** Blobs downloaded now vs found in the cache. */
  fetched: number;
  cached: number;
}

/** Resolve, then download every blob once into the cache, then lay the images out for the bundle. */
export async function pullImages(o: PullImagesOptions): Promise<PullImagesResult> {
  const refs = o.refs.map(parseReference);
  const cache = await openBlobCache(o.cacheDir);
  const hosts = new Set<string>();
  const clients = new Map<string, Promise<RegistryClient>>();
  const files = o.authFiles ?? authFiles();
  const clientFor = (registry: string) => {
    let c = clients.get(registry);
    if (!c) {
      c = (async () => {
        const endpoint = await endpointFor(registry, o.registries, o.specDir);
        const host = new URL(endpoint.url).host;
        let found = await lookupCredentials(host, files);
        if (!found.credentials && host !== registry) found = await lookupCredentials(registry, files);
        return createRegistryClient({
          endpoint,
          ...(found.credentials ? { credentials: found.credentials } : {}),
          credentialsTried: found.tried,
          ...(o.retry ? { retry: o.retry } : {}),
          onHost: (h) => hosts.add(h),
          onRetry: (what, attempt, reason) => o.onEvent?.({ type: 'retry', what, attempt, reason }),
        });
      })();
      clients.set(registry, c);
    }
    return c;
  };

  const platformsOf = (ref: string) => o.platformsFor?.get(ref) ?? o.platforms;
  let failed = false;
  // The first failure cuts off the other requests (eachLimit then waits for them to end), so a
  // failed pull leaves only verified blobs in the cache.
  const cutOff = async (err: unknown): Promise<never> => {
    await closeClients(clients, 'destroy');
    throw err;
  };
  try {
    const images = await eachLimit(refs, 4, async (ref) => {
      const pinned = o.pins?.get(ref.name);
      return resolveImage({
        ref,
        ...(pinned ? { pinned } : {}),
        client: await clientFor(ref.registry),
        cache,
        platforms: platformsOf(ref.name),
        attestations: o.attestations ?? true,
        evidence: o.evidence ?? true,
        ...(o.evidencePins?.has(ref.name) ? { lockedEvidence: o.evidencePins.get(ref.name)! } : {}),
        ...(o.onEvent ? { onEvent: o.onEvent } : {}),
      }).catch(cutOff);
    });
    let fetched = 0;
    let cachedCount = 0;
    if (!o.resolveOnly) {
      // Each blob once, however many images share it (asked for by the first); an image is done with its last blob.
      const blobs = new Map<string, { ref: ImageReference; d: Descriptor; users: number[] }>();
      const left = images.map((image, i) => {
        for (const d of image.blobs) {
          const b = blobs.get(d.digest);
          if (b) b.users.push(i);
          else blobs.set(d.digest, { ref: refs[i]!, d, users: [i] });
        }
        return image.blobs.length;
      });
      await eachLimit([...blobs.values()], o.concurrency ?? 6, async ({ ref, d, users }) => {
        const r = await pullBlob({
          client: await clientFor(ref.registry),
          cache,
          repository: ref.repository,
          descriptor: d,
          image: ref.name,
          onBytes: (n) => o.onEvent?.({ type: 'bytes', image: ref.name, n }),
          onRetry: (what, attempt, reason) => o.onEvent?.({ type: 'retry', what, attempt, reason }),
        }).catch(cutOff);
        if (r.fetched) fetched++;
        else cachedCount++;
        o.onEvent?.({ type: 'blob-done', image: ref.name, digest: d.digest, size: d.size, cached: !r.fetched });
        for (const i of users) {
          if (--left[i]! > 0) continue;
          const image = images[i]!;
          await checkSinglePlatform(image, cache, platformsOf(image.ref)).catch(cutOff);
          o.onEvent?.({ type: 'image-done', image: image.ref, digest: image.digest });
        }
      });
    }
    const names = imageNames(images);
    return { images, names, hosts: [...hosts].sort(), sources: o.resolveOnly ? [] : imageLayoutSources(names, cache), fetched, cached: cachedCount };
  } catch (err) {
    failed = true;
    await closeClients(clients, 'destroy');
    throw asIoError(err, 'write to the image cache', path.join(o.cacheDir, 'blobs'));
  } finally {
    if (!failed) await closeClients(clients, 'close');
  }
}

async function closeClients(clients: Map<string, Promise<RegistryClient>>, how: 'close' | 'destroy'): Promise<void> {
  await Promise.all(
    [...clients.values()].map(async (c) => {
      const client = await c.catch(() => undefined);
      await client?.[how]();
    }),
  );
}
