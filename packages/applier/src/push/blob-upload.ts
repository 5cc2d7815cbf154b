import { createHash } from 'node:crypto';
import { Transform, type Readable } from 'node:stream';
import { AirgapError, openEntry, readBundleRange, type RegistryClient, type VerifiedBundle } from '@airgap/core';
import type { PlannedBlob } from './push-plan.ts';
import { unexpected } from './registry-reply.ts';

export interface UploadOptions {
  client: RegistryClient;
  bundle: VerifiedBundle;
  blob: PlannedBlob;
  repository: string;
  /** The session URL a `POST …/blobs/uploads/` answered with (`Location`). */
  location: string;
  /** Blobs larger than this go up in PATCH chunks of this size; others in one PUT. */
  chunkSize: number;
  image: string;
  /** Bytes read into the request bodies, as they go (progress; a retried range counts again). */
  onBytes?: (n: number) => void;
}

const absolute = (client: RegistryClient, location: string) => new URL(location, client.endpoint.url);

/**
 * Send one blob into an open upload session, streamed from the bundle (never whole in memory):
 * one PUT, or PATCH chunks then a closing PUT. Either way the bytes are hashed again as they are
 * read, and the session is only committed when they match the bundle's digest.
 */
export async function uploadBlob(o: UploadOptions): Promise<void> {
  if (o.blob.size <= o.chunkSize) return commit(o, o.location, o.blob.size, () => counted(openEntry(o.bundle, o.blob.entry), o.onBytes));
  const rehash = positionalHash();
  let location = o.location;
  for (let start = 0; start < o.blob.size; start += o.chunkSize) {
    const end = Math.min(start + o.chunkSize, o.blob.size) - 1;
    const res = await o.client.request({
      method: 'PATCH',
      path: absolute(o.client, location).href,
      repository: o.repository,
      scope: 'push,pull',
      // The Location of an upload session is opaque (any path): say what this is.
      phase: 'upload',
      headers: { 'content-type': 'application/octet-stream', 'content-range': `${start}-${end}`, 'content-length': String(end - start + 1) },
      body: () => counted(rangeOf(o, start, end).pipe(rehash.at(start)), o.onBytes),
    });
    if (res.status !== 202 || typeof res.headers.location !== 'string')
      throw await unexpected(res, `PATCH of bytes ${start}-${end} of blob ${o.blob.digest}`, { image: o.image, registry: o.client.endpoint.registry });
    await res.body.dump();
    location = res.headers.location;
  }
  const digest = rehash.digest(o.blob.size);
  if (digest !== o.blob.digest)
    throw new AirgapError('DIGEST_MISMATCH', `${o.blob.entry} hashes to ${digest ?? 'a short read'} as read for the upload, the bundle says ${o.blob.digest}`, {
      hint: 'the bundle file changed after it was verified; copy it again',
    });
  return commit(o, location, 0);
}

async function commit(o: UploadOptions, location: string, length: number, body?: () => Readable): Promise<void> {
  const url = absolute(o.client, location);
  url.searchParams.set('digest', o.blob.digest);
  const res = await o.client.request({
    method: 'PUT',
    path: url.href,
    repository: o.repository,
    scope: 'push,pull',
    phase: 'upload',
    headers: { 'content-type': 'application/octet-stream', 'content-length': String(length) },
    ...(body ? { body } : {}),
  });
  if (res.status !== 201)
    throw await unexpected(res, `PUT of blob ${o.blob.digest} (${o.blob.size} bytes)`, { image: o.image, registry: o.client.endpoint.registry });
  await res.body.dump();
}

/** `src` through a pass-through that reports each chunk's length; an error of `src` (a digest mismatch) ends it too. */
function counted(src: Readable, onBytes: ((n: number) => void) | undefined): Readable {
  if (!onBytes) return src;
  const t = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      onBytes(chunk.length);
      cb(null, chunk);
    },
  });
  src.on('error', (err) => t.destroy(err));
  return src.pipe(t);
}

/** Bytes start..end (inclusive) of the blob's entry, straight from the bundle file (or across its parts). */
function rangeOf(o: UploadOptions, start: number, end: number): Readable {
  const location = o.bundle.locations.find((l) => l.entry.path === o.blob.entry);
  if (!location) throw new Error(`${o.blob.entry} is not in the bundle`);
  return readBundleRange(o.bundle, location.dataOffset + start, location.dataOffset + end);
}

/**
 * SHA-256 over chunks that may be read more than once (a retried PATCH re-reads its range): each
 * byte is hashed the first time its offset comes by, in order.
 */
function positionalHash() {
  const hash = createHash('sha256');
  let hashed = 0;
  return {
    at(start: number): Transform {
      let pos = start;
      return new Transform({
        transform(chunk: Buffer, _enc, cb) {
          const end = pos + chunk.length;
          if (pos <= hashed && end > hashed) {
            hash.update(chunk.subarray(hashed - pos));
            hashed = end;
          }
          pos = end;
          cb(null, chunk);
        },
      });
    },
    digest(size: number): string | undefined {
      return hashed === size ? `sha256:${hash.digest('hex')}` : undefined;
    },
  };
}
