import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { isAirgapError, openEntry, readEntry, verifyBundle, writeBundle } from '@airgap/core';
import { testdir } from '../support/tmpdir.ts';
import { baseManifest, makeKeys, smallBundle } from './bundle-helpers.ts';

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'OK';
  } catch (err) {
    if (isAirgapError(err)) return err.code;
    throw err;
  }
}

describe('bundle format', () => {
  it('round-trips: signature first, then every entry with its content', async () => {
    const dir = await testdir();
    const { file, keys } = await smallBundle(dir);
    const seen: Record<string, string> = {};
    const v = await verifyBundle(file, {
      keys: [keys.publicKey],
      onEntry: async (entry, content) => {
        let s = '';
        for await (const c of content) s += String(c);
        seen[entry.path] = s;
      },
    });
    expect(v.manifest.entries.map((e) => e.path)).toEqual([
      'airgap/SHA256SUMS',
      'applier/linux-amd64/applier',
      'containerd/hosts.d/docker.io/hosts.toml',
      'snaps/k8s_1.snap',
    ]);
    expect(seen['snaps/k8s_1.snap']).toBe('x'.repeat(700));
    expect(seen['airgap/SHA256SUMS']).toContain('  snaps/k8s_1.snap\n');
    expect(v.signer.fingerprint).toBe(keys.publicKey.fingerprint);
    expect((await readEntry(v, 'containerd/hosts.d/docker.io/hosts.toml')).toString()).toContain('registry-1.docker.io');
    expect(v.manifest.entries.find((e) => e.path === 'applier/linux-amd64/applier')?.mode).toBe(0o755);
  });

  it('refuses a bundle after ANY single byte is flipped', async () => {
    const dir = await testdir();
    const { file, keys } = await smallBundle(dir);
    const original = await readFile(file);
    const mutated = path.join(dir, 'mutated.tar');
    const accepted: number[] = [];
    for (let i = 0; i < original.length; i++) {
      const copy = Buffer.from(original);
      copy[i] = copy[i]! ^ 0x01;
      await writeFile(mutated, copy);
      if ((await codeOf(verifyBundle(mutated, { keys: [keys.publicKey] }))) === 'OK') accepted.push(i);
    }
    expect(original.length).toBeGreaterThan(4000);
    expect(accepted).toEqual([]);
  });

  it('refuses truncated and extended bundles', async () => {
    const dir = await testdir();
    const { file, keys } = await smallBundle(dir);
    const original = await readFile(file);
    const mutated = path.join(dir, 'mutated.tar');
    for (const cut of [0, 100, 512, 1024, original.length - 1024, original.length - 1]) {
      await writeFile(mutated, original.subarray(0, cut));
      expect(await codeOf(verifyBundle(mutated, { keys: [keys.publicKey] }))).not.toBe('OK');
    }
    for (const extra of [Buffer.alloc(1), Buffer.alloc(512), Buffer.alloc(10240)]) {
      await writeFile(mutated, Buffer.concat([original, extra]));
      expect(await codeOf(verifyBundle(mutated, { keys: [keys.publicKey] }))).toBe('BUNDLE_INVALID');
    }
  });

  it('refuses a bundle signed by another key, and one checked with no key', async () => {
    const dir = await testdir();
    const { file } = await smallBundle(dir);
    expect(await codeOf(verifyBundle(file, { keys: [makeKeys().publicKey] }))).toBe('SIGNATURE_INVALID');
    expect(await codeOf(verifyBundle(file, { keys: [] }))).toBe('SIGNATURE_INVALID');
  });

  it('a consumer of an entry whose bytes were altered sees an error, never a clean end', async () => {
    const dir = await testdir();
    const { file, keys } = await smallBundle(dir);
    const v = await verifyBundle(file, { keys: [keys.publicKey] });
    const loc = v.locations.find((l) => l.entry.path === 'snaps/k8s_1.snap')!;
    const bytes = await readFile(file);
    bytes[loc.dataOffset + 10] = 0x41;
    await writeFile(file, bytes);
    await expect(readEntry(v, 'snaps/k8s_1.snap')).rejects.toMatchObject({ code: 'DIGEST_MISMATCH' });
    let ended = false;
    const code = await codeOf(
      verifyBundle(file, {
        keys: [keys.publicKey],
        onEntry: async (e, content) => {
          if (e.path === 'snaps/k8s_1.snap') content.on('end', () => (ended = true));
          for await (const _ of content) void _;
        },
      }),
    );
    expect(code).toBe('DIGEST_MISMATCH');
    expect(ended).toBe(false);
    expect(() => openEntry(v, 'not/there')).toThrow(/not in the bundle/);
  });

  it('refuses unsafe entry paths when writing', async () => {
    const dir = await testdir();
    const keys = makeKeys();
    for (const bad of ['../etc/passwd', '/etc/passwd', 'a/../../b', 'a//b', 'a/./b', `${'x'.repeat(101)}`]) {
      const out = path.join(dir, 'b.tar');
      await expect(
        writeBundle({ out, manifest: baseManifest(keys.publicKey.fingerprint), sources: [{ path: bad, data: Buffer.from('x') }], key: keys.privateKey }),
      ).rejects.toMatchObject({ code: 'PATH_TRAVERSAL' });
    }
  });

  it('a failed write leaves neither the bundle nor a temp file', async () => {
    const dir = await testdir();
    const keys = makeKeys();
    const out = path.join(dir, 'b.tar');
    await expect(
      writeBundle({
        out,
        manifest: baseManifest(keys.publicKey.fingerprint),
        sources: [{ path: 'snaps/x.snap', file: path.join(dir, 'missing.snap') }],
        key: keys.privateKey,
      }),
    ).rejects.toThrow();
    expect(await readdir(dir)).toEqual([]);
    // A source that changes between hashing and writing fails the build too.
    await writeFile(path.join(dir, 'f'), 'abc');
    await expect(
      writeBundle({
        out,
        manifest: baseManifest(keys.publicKey.fingerprint),
        sources: [{ path: 'snaps/x.snap', file: path.join(dir, 'f'), sha256: '0'.repeat(64), size: 3 }],
        key: keys.privateKey,
      }),
    ).rejects.toMatchObject({ code: 'DIGEST_MISMATCH' });
    expect(await readdir(dir)).toEqual(['f']);
    await expect(stat(out)).rejects.toThrow();
  });
});
