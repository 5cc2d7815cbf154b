import { AirgapError, omittedFromNode, type RegistryClient, type VerifiedBundle } from '@airgap/core';
import type { PlannedImage } from '../push/push-plan.ts';
import { unexpected } from '../push/registry-reply.ts';

/**
 * Before `applier push` of a delta sends anything: every blob the delta leaves out (and no --base
 * supplies) must already be in the target repository of each image that needs it, as it is on a
 * registry that holds the base's images (HEAD /v2/<repo>/blobs/<digest>, distribution's blob
 * check). One missing is DELTA_BASE_MISSING naming the images and blobs, and nothing was pushed.
 */
export async function checkOmittedBlobs(o: { client: RegistryClient; bundle: VerifiedBundle; plans: readonly PlannedImage[] }): Promise<void> {
  const omitted = new Set(omittedFromNode(o.bundle).map((e) => e.path));
  if (omitted.size === 0) return;
  const missing: { image: string; target: string; digests: string[] }[] = [];
  for (const plan of o.plans) {
    const { repository, image } = plan.target;
    const digests: string[] = [];
    for (const blob of plan.blobs.filter((b) => omitted.has(b.entry))) {
      const head = await o.client.request({ method: 'HEAD', path: `/v2/${repository}/blobs/${blob.digest}`, repository, scope: 'push,pull' });
      if (head.status >= 400 && head.status !== 404)
        throw await unexpected(head, `HEAD of blob ${blob.digest}`, { image, registry: o.client.endpoint.registry });
      await head.body.dump();
      if (head.status === 404) digests.push(blob.digest);
    }
    if (digests.length > 0) missing.push({ image, target: `${o.client.endpoint.registry}/${repository}`, digests });
  }
  if (missing.length === 0) return;
  const b = o.bundle.manifest.base!;
  const list = missing.map((m) => `${m.image} (${m.target}): ${m.digests.join(', ')}`).join('; ');
  throw new AirgapError(
    'DELTA_BASE_MISSING',
    `${o.bundle.file} is a delta of ${b.name} ${b.digest} and leaves out blobs ${o.client.endpoint.registry} does not have: ${list}; nothing was pushed`,
    { hint: `push the base bundle ${b.name} to this registry first, or pass --base with it` },
  );
}
