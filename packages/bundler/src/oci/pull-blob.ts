import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import path from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { asIoError, asRegistryError, RegistryError, withRetries, type Descriptor, type RegistryClient } from '@airgap/core';
import type { BlobCache } from './blob-cache.ts';

export interface PullBlobOptions {
  client: RegistryClient;
  cache: BlobCache;
  repository: string;
  descriptor: Descriptor;
  /** For messages: the image that needs it. */
  image: string;
  /** Bytes received (negative when an attempt is thrown away). */
  onBytes?: (n: number) => void;
  onRetry?: (what: string, attempt: number, reason: string) => void;
}

/**
 * One blob into the cache, streamed to a temp file while its sha256 and size are checked, then
 * renamed. Truncated bodies, resets and wrong bytes are retried from the start with backoff.
 */
export async function pullBlob(o: PullBlobOptions): Promise<{ fetched: boolean }> {
  const { digest, size } = o.descriptor;
  if (await o.cache.has(digest, size)) return { fetched: false };
  const attempt = async () => {
    const temp = o.cache.tempFor(digest);
    let received = 0;
    try {
      await download(o, temp, (n) => {
        received += n;
        o.onBytes?.(n);
      });
      await o.cache.commit(temp, digest);
    } catch (err) {
      await o.cache.discard(temp);
      if (received > 0) o.onBytes?.(-received);
      throw err;
    }
  };
  try {
    await withRetries(o.client.retry, `${o.image} blob ${digest.slice(7, 19)}`, attempt, o.onRetry ? { onRetry: o.onRetry } : {});
  } catch (err) {
    // A full or read-only cache is the disk's fault, not the registry's: say so (IO_FAILED).
    const io = asIoError(err, 'write to the image cache', path.dirname(o.cache.pathOf(digest)));
    throw io !== err
      ? io
      : asRegistryError(err, o.client.endpoint, {
          method: 'GET',
          path: `/v2/${o.repository}/blobs/${digest}`,
          repository: o.repository,
          what: `${o.image} blob ${digest}`,
        });
  }
  return { fetched: true };
}

async function download(o: PullBlobOptions, temp: string, count: (n: number) => void): Promise<void> {
  const { digest, size } = o.descriptor;
  const registry = o.client.endpoint.registry;
  const res = await o.client.request({
    method: 'GET',
    path: `/v2/${o.repository}/blobs/${digest}`,
    repository: o.repository,
    scope: 'pull',
    followRedirects: true,
    what: o.image,
  });
  if (res.status !== 200) {
    await res.body.dump();
    const details = { registry, phase: 'blob', method: 'GET', status: res.status, retryable: false } as const;
    if (res.status === 404)
      throw new RegistryError('IMAGE_NOT_FOUND', `${o.image}: ${registry} has no blob ${digest} (HTTP 404)`, {
        hint: 'the registry lost part of the image; push it again there, or pull from another endpoint',
        ...details,
      });
    throw new RegistryError('REGISTRY_FAILED', `${o.image}: ${registry} answered HTTP ${res.status} for blob ${digest}`, {
      hint: 'try again later',
      ...details,
    });
  }
  const hash = createHash('sha256');
  let got = 0;
  // pipeline tears every stream down on the first error, with nothing left writing after it.
  await pipeline(
    res.body,
    new Transform({
      transform(chunk: Buffer, _enc, done) {
        got += chunk.length;
        if (got > size) return done(wrongBytes('DIGEST_MISMATCH', registry, `${o.image}: ${registry} sent more than the ${size} bytes of blob ${digest}`));
        hash.update(chunk);
        count(chunk.length);
        done(null, chunk);
      },
    }),
    createWriteStream(temp, { flags: 'wx', highWaterMark: 1024 * 1024 }),
  );
  if (got !== size) throw wrongBytes('SIZE_MISMATCH', registry, `${o.image}: ${registry} sent ${got} of the ${size} bytes of blob ${digest}`);
  const actual = `sha256:${hash.digest('hex')}`;
  if (actual !== digest) throw wrongBytes('DIGEST_MISMATCH', registry, `${o.image}: ${registry} sent bytes hashing to ${actual} for blob ${digest}`);
}

/** Wrong or short bytes may be a proxy's fault: worth another try, and an error if it persists. */
function wrongBytes(code: 'DIGEST_MISMATCH' | 'SIZE_MISMATCH', registry: string, message: string): RegistryError {
  return new RegistryError(code, message, {
    hint: 'a proxy or mirror altered the data; try again, or pull from another endpoint',
    registry,
    phase: 'blob',
    method: 'GET',
    status: 200,
    retryable: true,
  });
}
