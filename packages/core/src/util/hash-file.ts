import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { extraHasher } from './extra-hasher.ts';

export interface FileDigest {
  sha256: string;
  size: number;
}

/**
 * SHA-256 (hex) and size of a file, streamed; `extra` algorithms are computed from the same read
 * (on a worker thread for large files, see extraHasher).
 */
export async function hashFile(file: string, extra: readonly string[] = []): Promise<FileDigest & { extra: Record<string, Buffer> }> {
  const sha = createHash('sha256');
  const side = extra.length > 0 ? extraHasher(extra, (await stat(file)).size) : undefined;
  let size = 0;
  try {
    for await (const chunk of createReadStream(file, { highWaterMark: 1024 * 1024 }) as AsyncIterable<Buffer>) {
      sha.update(chunk);
      size += chunk.length;
      await side?.update(chunk);
    }
    return { sha256: sha.digest('hex'), size, extra: side ? await side.digest() : {} };
  } finally {
    await side?.close();
  }
}
