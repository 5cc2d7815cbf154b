import { createHash } from 'node:crypto';
import { open, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { BundleSource, ManifestEntry } from '@airgap/core';
import { copyEntry } from '../../packages/core/src/bundle/copy-entry.ts';
import { chunkPool, type ChunkPool } from '../../packages/core/src/util/chunk-pool.ts';
import { copyOrder } from '../../packages/core/src/bundle/write-bundle.ts';
import { testdir } from '../support/tmpdir.ts';

const MiB = 1024 * 1024;
const bytes = (n: number, seed: number) => Buffer.from(Array.from({ length: n }, (_, i) => (i * 131 + seed) & 0xff));
const expect3 = { algorithm: 'sha3-384', digest: 'x'.repeat(64), by: 'the test', hint: 'none' };

describe('copyOrder', () => {
  const entry = (p: string, size: number): ManifestEntry => ({ path: p, size, sha256: '0'.repeat(64), mode: 0o644 });
  it.each<[string, [path: string, size: number, kind: 'plain' | 'sha3' | 'known' | 'data'][], number[]]>([
    [
      'file order when nothing needs a second digest',
      [
        ['a', 5, 'plain'],
        ['b', 9, 'plain'],
        ['c', 1, 'data'],
      ],
      [0, 1, 2],
    ],
    // The tar puts images/ before snaps/: the snaps' SHA3-384 must not wait for every image.
    [
      'snaps to check first, largest first, then the rest in file order',
      [
        ['images/1', 50, 'plain'],
        ['images/2', 70, 'plain'],
        ['snaps/core22', 8, 'sha3'],
        ['snaps/k8s', 18, 'sha3'],
        ['snaps/snapd', 4, 'sha3'],
      ],
      [3, 2, 4, 0, 1],
    ],
    [
      'a snap whose SHA3-384 the cache already knows keeps its place',
      [
        ['a', 1, 'plain'],
        ['snaps/k8s', 18, 'known'],
        ['snaps/x', 2, 'sha3'],
      ],
      [2, 0, 1],
    ],
    [
      'equal sizes in file order',
      [
        ['s/a', 3, 'sha3'],
        ['s/b', 3, 'sha3'],
        ['z', 1, 'plain'],
      ],
      [0, 1, 2],
    ],
  ])('%s', (_name, rows, order) => {
    const sources: BundleSource[] = rows.map(([p, , kind]) => {
      if (kind === 'data') return { path: p, data: Buffer.from('x') };
      if (kind === 'plain') return { path: p, file: `/in/${p}` };
      return { path: p, file: `/in/${p}`, expect: { ...expect3, ...(kind === 'known' ? { known: { unchanged: () => Promise.resolve(true) } } : {}) } };
    });
    expect(
      copyOrder(
        sources,
        rows.map(([p, size]) => entry(p, size)),
      ),
    ).toEqual(order);
  });
});

describe('copyEntry with a shared chunk pool', () => {
  /**
   * A pool that tracks the most buffers out at once: what a pool that allocates only when it has
   * none free must have allocated. (Not distinct ArrayBuffer objects: one that comes back from the
   * worker is a new object over the same memory.)
   */
  function countingPool(): ChunkPool & { allocated: () => number } {
    const pool = chunkPool();
    let out = 0;
    let most = 0;
    return {
      take: () => {
        most = Math.max(most, ++out);
        return pool.take();
      },
      give: (b) => {
        out--;
        pool.give(b);
      },
      allocated: () => most,
    };
  }

  it.each([
    // SHA-256 only: a chunk read ahead, one being written, one spare.
    ['ten 3 MiB files, SHA-256 only', 10, 3 * MiB + 7, false, 3],
    // With the SHA3-384 worker (files of 16 MiB and more): also the chunks it has not hashed yet.
    ['three 17 MiB files checked by a SHA3-384 worker', 3, 17 * MiB + 3, true, 8],
  ])('copies %s through the same few buffers, byte for byte', async (_name, count, size, sha3, most) => {
    const dir = await testdir();
    const out = path.join(dir, 'out');
    const fh = await open(out, 'w');
    const pool = countingPool();
    const files = Array.from({ length: count }, (_, i) => ({ file: path.join(dir, `in${i}`), data: bytes(size, i) }));
    try {
      for (const [i, f] of files.entries()) {
        await writeFile(f.file, f.data);
        const digest = createHash('sha3-384').update(f.data).digest('base64url');
        const sha256 = await copyEntry(fh, i * size, { file: f.file, size, pool, ...(sha3 ? { expect: { ...expect3, digest } } : {}) });
        expect(sha256).toBe(createHash('sha256').update(f.data).digest('hex'));
      }
    } finally {
      await fh.close();
    }
    expect((await readFile(out)).equals(Buffer.concat(files.map((f) => f.data)))).toBe(true);
    // A pool per entry made fresh chunks for every file (count × this): now the same ones go round.
    expect(pool.allocated()).toBeLessThanOrEqual(most);
  });
});
