import { createHash } from 'node:crypto';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { canonicalJson, encodeHeader, readEntry, signManifest, verifyBundle, writeBundle, type BundleSource } from '@airgap/core';
import { testdir } from '../support/tmpdir.ts';
import { baseManifest, makeKeys } from './bundle-helpers.ts';

const MiB = 1024 * 1024;
const sha3 = (data: Buffer) => createHash('sha3-384').update(data).digest('base64url');
const bytes = (n: number, seed: number) => Buffer.from(Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff));

/** The bundle a naive writer makes: hash everything first, then write the tar front to back. */
function naiveBundle(manifestBytes: Buffer, signature: Buffer, sums: Buffer, payload: { path: string; data: Buffer; mode: number }[], mtime: number): Buffer {
  const entry = (name: string, data: Buffer, mode = 0o644) => [
    encodeHeader({ name, size: data.length, mode, mtime }),
    data,
    Buffer.alloc((512 - (data.length % 512)) % 512),
  ];
  return Buffer.concat([
    ...entry('airgap/manifest.json', manifestBytes),
    ...entry('airgap/manifest.sig', signature),
    ...entry('airgap/SHA256SUMS', sums),
    ...payload.flatMap((p) => entry(p.path, p.data, p.mode)),
    Buffer.alloc(1024),
  ]);
}

describe('writeBundle', () => {
  it('writes, in one pass over each source, exactly the bytes of a hash-first writer', async () => {
    const dir = await testdir();
    const keys = makeKeys();
    // Sizes around block and chunk boundaries; files with and without a known SHA-256 or an expected SHA3-384.
    const files = [0, 1, 511, 512, 513, MiB - 1, MiB, MiB + 1, 17 * MiB + 5].map((size, i) => ({
      path: `f/${String(i).padStart(2, '0')}`,
      data: bytes(size, i),
    }));
    for (const f of files) await writeFile(path.join(dir, f.path.replace('/', '_')), f.data);
    const sources: BundleSource[] = files.map((f, i) => {
      const file = path.join(dir, f.path.replace('/', '_'));
      if (i % 3 === 0) return { path: f.path, file };
      if (i % 3 === 1) return { path: f.path, file, sha256: createHash('sha256').update(f.data).digest('hex'), size: f.data.length };
      return { path: f.path, file, size: f.data.length, expect: { algorithm: 'sha3-384', digest: sha3(f.data), by: 'the test', hint: 'none' }, mode: 0o755 };
    });
    sources.push({ path: 'containerd/hosts.d/docker.io/hosts.toml', data: Buffer.from('generated') });
    const out = path.join(dir, 'b.tar');
    const written = await writeBundle({ out, manifest: baseManifest(keys.publicKey.fingerprint), sources, key: keys.privateKey });

    const v = await verifyBundle(out, { keys: [keys.publicKey] });
    for (const f of files) expect((await readEntry(v, f.path)).equals(f.data)).toBe(true);
    // Rebuild the file the slow way from the manifest the writer returned: the bytes must be the same.
    const payload = [
      { path: 'containerd/hosts.d/docker.io/hosts.toml', data: Buffer.from('generated'), mode: 0o644 },
      ...files.map((f, i) => ({ ...f, mode: i % 3 === 2 ? 0o755 : 0o644 })),
    ];
    const sums = Buffer.from(payload.map((p) => `${createHash('sha256').update(p.data).digest('hex')}  ${p.path}\n`).join(''));
    const manifestBytes = Buffer.from(canonicalJson(written.manifest));
    const mtime = Math.floor(Date.parse(written.manifest.createdAt) / 1000);
    expect((await readFile(out)).equals(naiveBundle(manifestBytes, signManifest(manifestBytes, keys.privateKey), sums, payload, mtime))).toBe(true);
  });

  it.each([
    [
      'an expected SHA3-384 that does not match',
      (f: string) => ({
        path: 's/x.snap',
        file: f,
        expect: { algorithm: 'sha3-384', digest: 'A'.repeat(64), by: 'its snap-revision assertion', hint: 'download x again' },
      }),
      /^x\.snap has SHA3-384 \S{64}, its snap-revision assertion says A{64}$/,
    ],
    ['a file shorter than planned', (f: string) => ({ path: 's/x.snap', file: f, size: 2 * MiB + 1 }), /changed while the bundle was being written/],
    ['a file longer than planned', (f: string) => ({ path: 's/x.snap', file: f, size: MiB }), /changed while the bundle was being written/],
  ])('refuses %s, and leaves nothing behind', async (_name, source, message) => {
    const dir = await testdir();
    const keys = makeKeys();
    const file = path.join(dir, 'x.snap');
    await writeFile(file, bytes(2 * MiB, 7));
    // Beside a large entry copied at the same time, which must stop too.
    await writeFile(path.join(dir, 'big'), bytes(20 * MiB, 3));
    const sources = [source(file), { path: 't/big', file: path.join(dir, 'big') }];
    const out = path.join(dir, 'b.tar');
    await expect(writeBundle({ out, manifest: baseManifest(keys.publicKey.fingerprint), sources, key: keys.privateKey })).rejects.toMatchObject({
      code: 'DIGEST_MISMATCH',
      message: expect.stringMatching(message),
    });
    expect((await readdir(dir)).sort()).toEqual(['big', 'x.snap']);
  });
});
