import { AirgapError, headerValue, MANIFEST_ACCEPT, readEntry, type RegistryClient, type VerifiedBundle } from '@airgap/core';
import type { PlannedManifest } from './push-plan.ts';
import { replyErrors, unexpected } from './registry-reply.ts';

export interface ManifestOptions {
  client: RegistryClient;
  repository: string;
  image: string;
}

/** The digest `reference` (tag or digest) resolves to in the registry, or undefined when absent. */
export async function manifestDigest(o: ManifestOptions, reference: string): Promise<string | undefined> {
  const res = await o.client.request({
    method: 'HEAD',
    path: `/v2/${o.repository}/manifests/${reference}`,
    repository: o.repository,
    scope: 'push,pull',
    headers: { accept: MANIFEST_ACCEPT },
  });
  if (res.status !== 200 && res.status !== 404)
    throw await unexpected(res, `HEAD of manifest ${o.repository}:${reference}`, { image: o.image, registry: o.client.endpoint.registry });
  await res.body.dump();
  if (res.status === 404) return undefined;
  return headerValue(res.headers['docker-content-digest']) ?? (reference.startsWith('sha256:') ? reference : undefined);
}

/**
 * PUT the manifest's bundle bytes unchanged under `reference`. `children-missing` when the registry
 * refuses an index because manifests it lists are not there: distribution answers
 * MANIFEST_BLOB_UNKNOWN with the child's digest (v2.8.3 registry/storage/manifestlisthandler.go:80-88,
 * registry/handlers/manifests.go:361-362; main: manifestlisthandler.go:80-95, manifests.go:311-312).
 * With `partial` (an index listing children the bundle does not carry), MANIFEST_INVALID counts
 * too: registries not built on distribution say it that way. DIGEST_INVALID is never this: it is
 * distribution's answer to bytes that do not hash to the digest they are put under (v2.8.3
 * manifests.go:317; main manifests.go:267).
 */
export async function putManifest(
  o: ManifestOptions & { bundle: VerifiedBundle },
  reference: string,
  m: PlannedManifest,
  partial = false,
): Promise<'pushed' | 'children-missing'> {
  const body = await readEntry(o.bundle, m.entry);
  const res = await o.client.request({
    method: 'PUT',
    path: `/v2/${o.repository}/manifests/${reference}`,
    repository: o.repository,
    scope: 'push,pull',
    headers: { 'content-type': m.mediaType, 'content-length': String(body.length) },
    body: () => body,
  });
  const where = { image: o.image, registry: o.client.endpoint.registry };
  if (res.status === 400) {
    const { codes, text } = await replyErrors(res);
    if (codes.includes('MANIFEST_BLOB_UNKNOWN') || (partial && codes.includes('MANIFEST_INVALID'))) return 'children-missing';
    throw new AirgapError(
      'REGISTRY_FAILED',
      `${o.image}: ${where.registry} refused manifest ${m.digest} (${m.mediaType}) as ${o.repository}:${reference} (HTTP 400${text ? `: ${text}` : ''})`,
      {
        hint: 'the registry does not accept this manifest type; check that it supports OCI images (distribution 2.7 or later, Harbor 2)',
      },
    );
  }
  if (res.status !== 201) throw await unexpected(res, `PUT of manifest ${o.repository}:${reference}`, where);
  await res.body.dump();
  const stored = headerValue(res.headers['docker-content-digest']);
  if (stored && stored !== m.digest) {
    throw new AirgapError('REGISTRY_FAILED', `${o.image}: ${where.registry} stored manifest ${o.repository}:${reference} as ${stored}, not ${m.digest}`, {
      hint: 'the registry rewrites manifests; pulls by digest will not match the bundle: use a registry that keeps them as sent',
    });
  }
  return 'pushed';
}
