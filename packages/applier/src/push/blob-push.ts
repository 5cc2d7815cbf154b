import { headerValue, isRegistryError, withRetries, type OnRetry, type RegistryClient, type VerifiedBundle } from '@airgap/core';
import { uploadBlob } from './blob-upload.ts';
import type { BlobAction } from './push-events.ts';
import type { PlannedBlob } from './push-plan.ts';
import { unexpected } from './registry-reply.ts';

export interface BlobPushOptions {
  client: RegistryClient;
  bundle: VerifiedBundle;
  blob: PlannedBlob;
  repository: string;
  image: string;
  chunkSize: number;
  /** Repositories that got this blob earlier in this run: a mount source. */
  elsewhere: readonly string[];
  onRetry?: OnRetry;
  /** Bytes read from the bundle into an upload, as they go (progress). */
  onBytes?: (n: number) => void;
}

/**
 * A failed upload (a PATCH chunk or the closing PUT refused, a connection lost mid-body) leaves a
 * session that cannot be trusted: the retry starts a new one with a fresh POST. Wrong bytes and
 * refused credentials do not get better by trying again, nor does a refused POST.
 */
const sessionBroken = (err: unknown) => isRegistryError(err, 'REGISTRY_FAILED') && err.phase === 'upload' && err.method !== 'POST';

/**
 * Make one blob present in `repository`: HEAD first (a re-run skips what it sent before), then a
 * cross-repository mount when this run already put it elsewhere, else an upload from the bundle.
 */
export async function pushBlob(o: BlobPushOptions): Promise<{ action: BlobAction; from?: string }> {
  const where = { image: o.image, registry: o.client.endpoint.registry };
  const head = await o.client.request({ method: 'HEAD', path: `/v2/${o.repository}/blobs/${o.blob.digest}`, repository: o.repository, scope: 'push,pull' });
  if (head.status >= 400 && head.status !== 404) throw await unexpected(head, `HEAD of blob ${o.blob.digest}`, where);
  await head.body.dump();
  if (head.status !== 404) return { action: 'present' };
  const attempt = async (): Promise<{ action: BlobAction; from?: string }> => {
    const from = o.elsewhere[0];
    const query = from ? `?mount=${encodeURIComponent(o.blob.digest)}&from=${encodeURIComponent(from)}` : '';
    const start = await o.client.request({
      method: 'POST',
      path: `/v2/${o.repository}/blobs/uploads/${query}`,
      repository: o.repository,
      scope: 'push,pull',
      ...(from ? { extraPullRepositories: [from] } : {}),
      headers: { 'content-length': '0' },
    });
    if (from && start.status === 201) {
      await start.body.dump();
      return { action: 'mounted', from };
    }
    const location = headerValue(start.headers.location);
    if (start.status !== 202 || !location) throw await unexpected(start, `POST of a blob upload for ${o.blob.digest}`, where);
    await start.body.dump();
    await uploadBlob({
      client: o.client,
      bundle: o.bundle,
      blob: o.blob,
      repository: o.repository,
      location,
      chunkSize: o.chunkSize,
      image: o.image,
      ...(o.onBytes ? { onBytes: o.onBytes } : {}),
    });
    return { action: 'uploaded' };
  };
  return withRetries(o.client.retry, `${o.image} blob ${o.blob.digest.slice(7, 19)}`, attempt, {
    retryable: sessionBroken,
    ...(o.onRetry ? { onRetry: o.onRetry } : {}),
  });
}
