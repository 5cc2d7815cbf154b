import { AirgapError, eachLimit, splitReference, type RegistryClient, type VerifiedBundle } from '@airgap/core';
import { pushBlob } from './blob-push.ts';
import { manifestDigest, putManifest, type ManifestOptions } from './manifest-push.ts';
import type { PushListener, PushSummary, UnheldDigest } from './push-events.ts';
import type { PlannedImage } from './push-plan.ts';
import { checkpoint } from '../checkpoint.ts';

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

/** What this run learned of the registry and its blobs, shared by the images pushed one after the other. */
interface RunState {
  s: PushSummary;
  /** digest → repositories that hold it, as far as this run knows. */
  holders: Map<string, string[]>;
  /** The registry refuses an index whose children are missing (seen refusing one, or holding a subset under a tag). */
  strict: boolean;
  /** It answered a manifest HEAD: what it refuses from now on is about one image, not the connection. */
  answered: boolean;
}

/**
 * Push every planned image: its blobs (a few at a time), then its manifests children first, the
 * tag last, so the tag never points at anything incomplete. Images go one after the other, so a
 * blob shared with an earlier image is mounted from that image's repository instead of sent again.
 * An image the registry refuses is reported and the others still go; a network or credentials
 * failure stops the push (it would fail every image the same way).
 */
export async function pushImages(o: PushImagesOptions): Promise<PushSummary> {
  const now = o.now ?? Date.now;
  const started = now();
  const registry = o.client.endpoint.registry;
  const s: PushSummary = {
    registry,
    images: 0,
    blobsUploaded: 0,
    bytesUploaded: 0,
    blobsMounted: 0,
    blobsPresent: 0,
    bytesSkipped: 0,
    manifestsPushed: 0,
    manifestsPresent: 0,
    subsets: [],
    unheld: [],
    failed: [],
    seconds: 0,
  };
  const run: RunState = { s, holders: new Map(), strict: false, answered: false };
  for (const plan of o.plans) {
    const target = targetName(registry, plan);
    try {
      await pushImage(o, run, plan, target);
    } catch (err) {
      // A registry that works refused this image (an answer, not a network error): go on.
      if (!run.answered || !(err instanceof AirgapError) || err.code !== 'REGISTRY_FAILED' || err.cause !== undefined) throw err;
      s.failed.push({ image: plan.target.image, code: err.code, message: err.message });
      o.onEvent({ type: 'image-failed', image: plan.target.image, target, code: err.code, message: err.message, ...(err.hint ? { hint: err.hint } : {}) });
    }
  }
  s.seconds = Math.round((now() - started) / 100) / 10;
  return s;
}

const targetName = (registry: string, plan: PlannedImage) =>
  `${registry}/${plan.target.repository}${plan.target.tag ? `:${plan.target.tag}` : `@${plan.root.digest}`}`;

async function pushImage(o: PushImagesOptions, run: RunState, plan: PlannedImage, target: string): Promise<void> {
  const { s, holders } = run;
  const { image, repository, tag } = plan.target;
  const hold = (digest: string) => holders.set(digest, [...(holders.get(digest) ?? []).filter((r) => r !== repository), repository]);
  const onRetry = (what: string, attempt: number, reason: string) => o.onEvent({ type: 'retry', what, attempt, reason });
  o.onEvent({ type: 'image-start', image, target, digest: plan.root.digest, blobs: plan.blobs.length, bytes: plan.bytes });
  const mo: ManifestOptions & { bundle: VerifiedBundle } = { client: o.client, repository, image, bundle: o.bundle };
  const reference = tag ?? plan.root.digest;
  const partial = plan.absent.length > 0;

  // Done before (a re-run): the registry checked every blob when it took the manifest.
  const current = await manifestDigest(mo, reference);
  run.answered = true;
  if (current !== undefined && (current === plan.root.digest || current === plan.subset?.digest)) {
    for (const b of plan.blobs) hold(b.digest);
    s.blobsPresent += plan.blobs.length;
    s.bytesSkipped += plan.bytes;
    s.manifestsPresent++;
    if (current === plan.subset?.digest) {
      // Only a refusal of the upstream index puts the subset under a tag.
      run.strict = true;
      s.subsets.push({ image, index: plan.root.digest, subset: current });
    }
    o.onEvent({ type: 'manifest', image, digest: current, reference, action: 'present' });
    o.onEvent({ type: 'image-done', image, target, digest: current });
    s.images++;
    return;
  }
  // A registry that refused a partial index under a tag refuses it by digest too: say so, send nothing.
  if (!tag && partial && run.strict) return unheld(o, run, plan, target);

  await eachLimit(plan.blobs, o.concurrency ?? 3, async (blob) => {
    const others = (holders.get(blob.digest) ?? []).filter((r) => r !== repository);
    const known = holders.get(blob.digest)?.includes(repository);
    const r = known
      ? { action: 'present' as const }
      : await pushBlob({
          client: o.client,
          bundle: o.bundle,
          blob,
          repository,
          image,
          chunkSize: o.chunkSize,
          elsewhere: others,
          onRetry,
          onBytes: (n) => o.onEvent({ type: 'bytes', image, n }),
        });
    hold(blob.digest);
    if (r.action === 'uploaded') {
      s.blobsUploaded++;
      s.bytesUploaded += blob.size;
    } else {
      if (r.action === 'mounted') s.blobsMounted++;
      else s.blobsPresent++;
      s.bytesSkipped += blob.size;
    }
    o.onEvent({ type: 'blob', image, digest: blob.digest, size: blob.size, action: r.action, ...('from' in r && r.from ? { from: r.from } : {}) });
    if (r.action === 'uploaded') await checkpoint('push:uploaded');
  });

  for (const child of plan.children) {
    const present = (await manifestDigest(mo, child.digest)) === child.digest;
    if (!present) await putOrFail(mo, child.digest, child);
    count(s, present);
    o.onEvent({ type: 'manifest', image, digest: child.digest, reference: child.digest, action: present ? 'present' : 'pushed' });
  }

  let pushed = plan.root.digest;
  if ((await putManifest(mo, reference, plan.root, partial)) === 'children-missing') {
    run.strict = true;
    if (!tag) return unheld(o, run, plan, target);
    if (!plan.subset) throw refusedIndex(plan, o.client.endpoint.registry);
    // Every carried platform still pulls by tag; only pulls by the upstream digest cannot be served.
    await putOrFail(mo, reference, plan.subset);
    pushed = plan.subset.digest;
    s.subsets.push({ image, index: plan.root.digest, subset: pushed });
    o.onEvent({ type: 'index-refused', image, target, index: plan.root.digest, subset: pushed, platforms: plan.subset.platforms, absent: plan.absent });
  }
  count(s, false);
  o.onEvent({ type: 'manifest', image, digest: pushed, reference, action: 'pushed' });
  o.onEvent({ type: 'image-done', image, target, digest: pushed });
  s.images++;
}

function unheld(o: PushImagesOptions, run: RunState, plan: PlannedImage, target: string): void {
  const absent = [...new Set(plan.absent)];
  const { registry, repository } = splitReference(plan.target.image);
  const repo = `${registry}/${repository}`;
  const u: UnheldDigest = {
    image: plan.target.image,
    target,
    digest: plan.root.digest,
    absent,
    hint:
      `pods that pin ${repo}@${plan.root.digest} will not find it in this registry (pods using a tag are not affected): ` +
      `point them at the tag, or let the registry accept partial indexes (distribution 3: validation.manifests.indexes.platforms), ` +
      `or build the bundle with images.platforms: [all] and images.attestations: keep so the index is whole`,
  };
  run.s.unheld.push(u);
  o.onEvent({ type: 'digest-unheld', ...u });
}

async function putOrFail(mo: ManifestOptions & { bundle: VerifiedBundle }, reference: string, m: PlannedImage['root']): Promise<void> {
  if ((await putManifest(mo, reference, m)) === 'children-missing') {
    throw new AirgapError('REGISTRY_FAILED', `${mo.image}: ${mo.client.endpoint.registry} says manifest ${m.digest} refers to content it does not have`, {
      hint: 're-run `applier push`: it sends only what is missing',
    });
  }
}

function refusedIndex(plan: PlannedImage, registry: string): AirgapError {
  return new AirgapError(
    'REGISTRY_FAILED',
    `${plan.target.image}: ${registry} refuses its index ${plan.root.digest}, which lists content the bundle does not carry (${[...new Set(plan.absent)].join(', ')}), and the bundle has no subset index for it`,
    {
      hint: 'rebuild the bundle with this bundler (it writes a subset index), or let the registry accept partial indexes (distribution 3: validation.manifests.indexes.platforms)',
    },
  );
}

function count(s: PushSummary, present: boolean): void {
  if (present) s.manifestsPresent++;
  else s.manifestsPushed++;
}
