import path from 'node:path';
import { asIoError, authFiles, createRegistryClient, lookupCredentials, parseReference, type BundleSource, type Descriptor, type ImageReference, type RegistryClient, type RegistrySource, type RetryPolicy } from '@airgap/core';
import { openBlobCache } from './blob-cache.ts';
import { imageLayoutSources, imageNames, type NamedImage } from './image-layout.ts';
import { limit } from './limit.ts';
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
  const inFlight = new Map<string, Promise<void>>();
  try {
    const resolveLimit = limit(4);
    const images = await Promise.all(
      refs.map((ref) =>
        resolveLimit(async () => {
          const pinned = o.pins?.get(ref.name);
          return resolveImage({ ref, ...(pinned ? { pinned } : {}), client: await clientFor(ref.registry), cache, platforms: platformsOf(ref.name), attestations: o.attestations ?? true, ...(o.onEvent ? { onEvent: o.onEvent } : {}) });
        }),
      ),
    );
    let fetched = 0;
    let cachedCount = 0;
    if (!o.resolveOnly) {
      const blobLimit = limit(o.concurrency ?? 6);
      const fetchBlob = (ref: ImageReference, d: Descriptor) => {
        let p = inFlight.get(d.digest);
        if (!p) {
          p = blobLimit(async () => {
            if (failed) return; // queued behind a failure: nothing more to start
            const r = await pullBlob({ client: await clientFor(ref.registry), cache, repository: ref.repository, descriptor: d, image: ref.name, onBytes: (n) => o.onEvent?.({ type: 'bytes', image: ref.name, n }), onRetry: (what, attempt, reason) => o.onEvent?.({ type: 'retry', what, attempt, reason }) });
            if (r.fetched) fetched++;
            else cachedCount++;
            o.onEvent?.({ type: 'blob-done', image: ref.name, digest: d.digest, size: d.size, cached: !r.fetched });
          });
          inFlight.set(d.digest, p);
        }
        return p;
      };
      await Promise.all(
        images.map(async (image, i) => {
          await Promise.all(image.blobs.map((d) => fetchBlob(refs[i]!, d)));
          await checkSinglePlatform(image, cache, platformsOf(image.ref));
          o.onEvent?.({ type: 'image-done', image: image.ref, digest: image.digest });
        }),
      );
    }
    const names = imageNames(images);
    return { images, names, hosts: [...hosts].sort(), sources: o.resolveOnly ? [] : imageLayoutSources(names, cache), fetched, cached: cachedCount };
  } catch (err) {
    failed = true;
    // Other downloads may still be running: cut them off, then let each remove its temp file, so
    // a failed pull leaves only verified blobs in the cache.
    await closeClients(clients, 'destroy');
    await Promise.allSettled(inFlight.values());
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
