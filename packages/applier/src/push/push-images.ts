import { AirgapError, MANIFEST_TYPES, type RegistryClient, type VerifiedBundle } from '@airgap/core';
import { pushBlob } from './blob-push.ts';
import { manifestDigest, putManifest, type ManifestOptions } from './manifest-push.ts';
import type { PushListener, PushSummary } from './push-events.ts';
import type { PlannedImage } from './push-plan.ts';
import { testPause } from '../test-hooks.ts';

export interface PushImagesOptions {
  client: RegistryClient;
  bundle: VerifiedBundle;
  plans: readonly PlannedImage[];
  /** Blobs larger than this go up in chunks (bytes). */
  chunkSize: number;
  /** Blobs of one image in flight at once. */
  concurrency?: number;
  onEvent: PushListener;
  now?: () => number;
}

/**
 * Push every planned image: its blobs (a few at a time), then its manifests children first, the
 * tag last, so the tag never points at anything incomplete. Images go one after the other, so a
 * blob shared with an earlier image is mounted from that image's repository instead of sent again.
 */
export async function pushImages(o: PushImagesOptions): Promise<PushSummary> {
  const now = o.now ?? Date.now;
  const started = now();
  const registry = o.client.endpoint.registry;
  const s: PushSummary = { registry, images: 0, blobsUploaded: 0, bytesUploaded: 0, blobsMounted: 0, blobsPresent: 0, manifestsPushed: 0, manifestsPresent: 0, seconds: 0 };
  /** digest → repositories that hold it, as far as this run knows. */
  const holders = new Map<string, string[]>();
  const hold = (digest: string, repository: string) => holders.set(digest, [...(holders.get(digest) ?? []).filter((r) => r !== repository), repository]);
  const onRetry = (what: string, attempt: number, reason: string) => o.onEvent({ type: 'retry', what, attempt, reason });

  for (const plan of o.plans) {
    const { image, repository, tag } = plan.target;
    const targetName = `${registry}/${repository}${tag ? `:${tag}` : `@${plan.root.digest}`}`;
    o.onEvent({ type: 'image-start', image, target: targetName, digest: plan.root.digest, blobs: plan.blobs.length, bytes: plan.bytes });
    const mo: ManifestOptions & { bundle: VerifiedBundle } = { client: o.client, repository, image, bundle: o.bundle };
    const fallback = fallbackManifest(plan);
    const reference = tag ?? plan.root.digest;

    // Done before (a re-run): the registry checked every blob when it took the manifest.
    const current = await manifestDigest(mo, reference);
    if (current !== undefined && (current === plan.root.digest || current === fallback?.digest)) {
      for (const b of plan.blobs) hold(b.digest, repository);
      s.blobsPresent += plan.blobs.length;
      s.manifestsPresent++;
      o.onEvent({ type: 'manifest', image, digest: current, reference, action: 'present' });
      o.onEvent({ type: 'image-done', image, target: targetName, digest: current });
      s.images++;
      continue;
    }

    await inPool(plan.blobs, o.concurrency ?? 3, async (blob) => {
      const others = (holders.get(blob.digest) ?? []).filter((r) => r !== repository);
      const known = holders.get(blob.digest)?.includes(repository);
      const r = known ? { action: 'present' as const } : await pushBlob({ client: o.client, bundle: o.bundle, blob, repository, image, chunkSize: o.chunkSize, elsewhere: others, onRetry });
      hold(blob.digest, repository);
      if (r.action === 'uploaded') {
        s.blobsUploaded++;
        s.bytesUploaded += blob.size;
      } else if (r.action === 'mounted') s.blobsMounted++;
      else s.blobsPresent++;
      o.onEvent({ type: 'blob', image, digest: blob.digest, size: blob.size, action: r.action, ...('from' in r && r.from ? { from: r.from } : {}) });
      if (r.action === 'uploaded') await testPause('push:uploaded');
    });

    for (const child of plan.children) {
      const present = (await manifestDigest(mo, child.digest)) === child.digest;
      if (!present) await putOrFail(mo, child.digest, child);
      count(s, present);
      o.onEvent({ type: 'manifest', image, digest: child.digest, reference: child.digest, action: present ? 'present' : 'pushed' });
    }

    let pushed = plan.root.digest;
    if ((await putManifest(mo, reference, plan.root)) === 'children-missing') {
      if (!fallback) throw refusedIndex(plan, registry);
      // The registry checks that every child of an index exists; the bundle carries one platform's.
      await putOrFail(mo, reference, fallback);
      pushed = fallback.digest;
      o.onEvent({ type: 'index-refused', image, target: targetName, index: plan.root.digest, manifest: fallback.digest, platform: fallback.platform ?? 'unknown', absent: plan.absent });
    }
    count(s, false);
    o.onEvent({ type: 'manifest', image, digest: pushed, reference, action: 'pushed' });
    o.onEvent({ type: 'image-done', image, target: targetName, digest: pushed });
    s.images++;
  }
  s.seconds = Math.round((now() - started) / 100) / 10;
  return s;
}

/** The one platform manifest of a partial index, which the tag can point at instead. */
function fallbackManifest(plan: PlannedImage) {
  const manifests = plan.children.filter((c) => MANIFEST_TYPES.has(c.mediaType));
  return plan.absent.length > 0 && plan.children.length === 1 && manifests.length === 1 ? manifests[0] : undefined;
}

async function putOrFail(mo: ManifestOptions & { bundle: VerifiedBundle }, reference: string, m: PlannedImage['root']): Promise<void> {
  if ((await putManifest(mo, reference, m)) === 'children-missing') {
    throw new AirgapError('REGISTRY_FAILED', `${mo.image}: ${mo.client.endpoint.registry} says manifest ${m.digest} refers to content it does not have`, { hint: 're-run `applier push`: it sends only what is missing' });
  }
}

function refusedIndex(plan: PlannedImage, registry: string): AirgapError {
  return new AirgapError('REGISTRY_FAILED', `${plan.target.image}: ${registry} refuses its index ${plan.root.digest}, which lists platforms the bundle does not carry (${plan.absent.join(', ')})`, {
    hint: 'let the registry accept partial indexes (distribution 3: validation.manifests.indexes.platforms: list, with the bundle platforms in platformlist), or build the bundle with every platform of the image in images.platforms',
  });
}

function count(s: PushSummary, present: boolean): void {
  if (present) s.manifestsPresent++;
  else s.manifestsPushed++;
}

/** Run `fn` over `items`, at most `n` at once; after a failure no new item starts, and it is thrown once the others end. */
async function inPool<T>(items: readonly T[], n: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failed = false;
  const worker = async () => {
    while (!failed && next < items.length) {
      try {
        await fn(items[next++]!);
      } catch (err) {
        failed = true;
        throw err;
      }
    }
  };
  const results = await Promise.allSettled(Array.from({ length: Math.min(n, items.length) }, worker));
  const rejected = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (rejected) throw rejected.reason;
}
