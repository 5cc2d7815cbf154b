import { mkdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { DIGEST_PATTERN, removeStaleTempsIn, tempPathFor } from '@airgap/core';

/**
 * Content-addressed blobs under `<cacheDir>/blobs/sha256/<hex>`, shared by every build on the
 * machine. A file only appears at its final name after its digest was checked, so what is there
 * can be trusted by name and size; the bundle writer hashes it once more as it copies.
 */
export interface BlobCache {
  pathOf(digest: string): string;
  /** True when the blob is held with exactly this size. */
  has(digest: string, size: number): Promise<boolean>;
  /** A fresh temp name beside the final one (same filesystem, so the rename is atomic). */
  tempFor(digest: string): string;
  /** Move a verified temp file into place. */
  commit(temp: string, digest: string): Promise<string>;
  discard(temp: string): Promise<void>;
}

export async function openBlobCache(cacheDir: string): Promise<BlobCache> {
  const dir = path.join(cacheDir, 'blobs', 'sha256');
  await mkdir(dir, { recursive: true });
  // Downloads of a build that was killed: their process is gone, so nobody will finish them.
  await removeStaleTempsIn(dir);
  const pathOf = (digest: string) => {
    if (!DIGEST_PATTERN.test(digest)) throw new Error(`not a sha256 digest: ${digest}`);
    return path.join(dir, digest.slice('sha256:'.length));
  };
  return {
    pathOf,
    async has(digest, size) {
      const st = await stat(pathOf(digest)).catch(() => undefined);
      return st?.isFile() === true && st.size === size;
    },
    tempFor: (digest) => tempPathFor(pathOf(digest)),
    async commit(temp, digest) {
      const final = pathOf(digest);
      await rename(temp, final);
      return final;
    },
    discard: (temp) => rm(temp, { force: true }),
  };
}
