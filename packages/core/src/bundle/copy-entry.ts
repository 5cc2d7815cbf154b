import { createHash } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { AirgapError } from '../errors.ts';
import { CHUNK, chunkPool, type ChunkPool } from '../util/chunk-pool.ts';
import { extraHasher } from '../util/extra-hasher.ts';
import type { ExpectedDigest } from './bundle-source.ts';

/** Where a bundle is written by position: one file's handle, or the parts of a split bundle. */
export interface PositionalWriter {
  write(buffer: Uint8Array, offset: number, length: number, position: number): Promise<{ bytesWritten: number }>;
}

export interface CopyEntryOptions {
  file: string;
  size: number;
  /** Checked when given. */
  sha256?: string;
  expect?: ExpectedDigest;
  /** Stops the copy at the next chunk (another entry failed). */
  signal?: AbortSignal;
  /** Where chunk buffers come from and go back to (default: a pool of this copy's own). */
  pool?: ChunkPool;
}

/**
 * Copy exactly `size` bytes of a file into `out` at `position`, computing its SHA-256 (and any
 * expected digest, on a worker) from that one read: each source byte is read once per build.
 * The next chunk is read while the current one is hashed and written. A file that is shorter or
 * longer than planned, or whose digests are not the expected ones, fails the copy.
 */
export async function copyEntry(out: PositionalWriter, position: number, o: CopyEntryOptions): Promise<string> {
  const input = await open(o.file, 'r');
  const sha = createHash('sha256');
  // Chunk buffers come back once written and hashed: memory stays a few chunks, whatever the size.
  const pool = o.pool ?? chunkPool();
  const recycle = (buf: Buffer): void => pool.give(buf);
  const extra = o.expect && !o.expect.known ? extraHasher([o.expect.algorithm], o.size, { recycle }) : undefined;
  const readAt = (at: number) => quiet(readChunk(input, pool.take(), at, Math.min(CHUNK, o.size - at)));
  let reading = o.size > 0 ? readAt(0) : undefined;
  let writing: Promise<void> = Promise.resolve();
  try {
    let done = 0;
    while (reading) {
      o.signal?.throwIfAborted();
      const chunk = await reading;
      if (chunk.length === 0) throw changed(o.file);
      const at = done;
      done += chunk.length;
      reading = done < o.size ? readAt(done) : undefined;
      sha.update(chunk);
      await writing;
      // Once written, the chunk is no longer needed here: it moves (not copied) to the worker.
      writing = quiet(writeAll(out, chunk, position + at).then(() => (extra ? extra.update(chunk, { transfer: true }) : recycle(Buffer.from(chunk.buffer)))));
    }
    await writing;
    if ((await input.read(Buffer.alloc(1), 0, 1, o.size)).bytesRead > 0) throw changed(o.file);
    const sha256 = sha.digest('hex');
    if (o.sha256 !== undefined && sha256 !== o.sha256) throw changed(o.file);
    if (extra && o.expect) {
      const got = (await extra.digest())[o.expect.algorithm]!.toString('base64url');
      if (got !== o.expect.digest) {
        throw new AirgapError(
          'DIGEST_MISMATCH',
          `${path.basename(o.file)} has ${o.expect.algorithm.toUpperCase()} ${got}, ${o.expect.by} says ${o.expect.digest}`,
          { hint: o.expect.hint },
        );
      }
      await o.expect.onVerified?.();
    }
    if (o.expect?.known && !(await o.expect.known.unchanged())) throw changed(o.file);
    return sha256;
  } finally {
    // Nothing may still be reading or writing once the handles close.
    await Promise.allSettled([reading, writing]);
    await extra?.close();
    await input.close();
  }
}

/** Mark a promise as observed (it is awaited later), so an early rejection is not "unhandled". */
function quiet<T>(p: Promise<T>): Promise<T> {
  p.catch(() => undefined);
  return p;
}

/** Up to `length` bytes at `position` into `buf`, which owns its ArrayBuffer (so it can be transferred). */
async function readChunk(input: FileHandle, buf: Buffer, position: number, length: number): Promise<Buffer> {
  let filled = 0;
  while (filled < length) {
    const { bytesRead } = await input.read(buf, filled, length - filled, position + filled);
    if (bytesRead === 0) break;
    filled += bytesRead;
  }
  return filled === buf.length ? buf : buf.subarray(0, filled);
}

export async function writeAll(out: PositionalWriter, data: Uint8Array, position: number): Promise<void> {
  for (let written = 0; written < data.length;) {
    const { bytesWritten } = await out.write(data, written, data.length - written, position + written);
    written += bytesWritten;
  }
}

function changed(file: string): AirgapError {
  return new AirgapError('DIGEST_MISMATCH', `${file} changed while the bundle was being written`, {
    hint: 'make sure nothing writes to the sources during a build, then run it again',
  });
}
