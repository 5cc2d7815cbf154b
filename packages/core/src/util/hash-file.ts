import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';

export interface FileDigest {
  sha256: string;
  size: number;
}

/** SHA-256 (hex) and size of a file, streamed; `extra` algorithms are computed in the same pass. */
export async function hashFile(file: string, extra: readonly string[] = []): Promise<FileDigest & { extra: Record<string, Buffer> }> {
  const sha = createHash('sha256');
  const others = extra.map((alg) => [alg, createHash(alg)] as const);
  let size = 0;
  for await (const chunk of createReadStream(file, { highWaterMark: 1024 * 1024 }) as AsyncIterable<Buffer>) {
    sha.update(chunk);
    for (const [, h] of others) h.update(chunk);
    size += chunk.length;
  }
  return { sha256: sha.digest('hex'), size, extra: Object.fromEntries(others.map(([alg, h]) => [alg, h.digest()])) };
}
