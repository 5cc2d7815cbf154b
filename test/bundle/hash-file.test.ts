import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { hashFile } from '@airgap/core';
import { testdir } from '../support/tmpdir.ts';

describe('hashFile', () => {
  it.each([
    ['small, hashed in-thread', 100_000],
    ['large, SHA3 on a worker thread', 70 * 1024 * 1024 + 3],
  ])('%s: same digests as a one-shot hash', async (_name, size) => {
    const dir = await testdir();
    const file = path.join(dir, 'f');
    const data = Buffer.alloc(size);
    for (let i = 0; i + 4 <= size; i += 4096) data.writeUInt32LE((i * 2654435761) >>> 0, i);
    await writeFile(file, data);
    const r = await hashFile(file, ['sha3-384']);
    const bytes = await readFile(file);
    expect(r.size).toBe(size);
    expect(r.sha256).toBe(createHash('sha256').update(bytes).digest('hex'));
    expect(r.extra['sha3-384']!.toString('base64url')).toBe(createHash('sha3-384').update(bytes).digest('base64url'));
  });
});
