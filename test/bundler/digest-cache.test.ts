import { createHash } from 'node:crypto';
import { open, readFile, stat, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { writeBundle, type Spec } from '@airgap/core';
import { snapDigestExpectation } from '../../packages/bundler/src/snaps/check-snap.ts';
import { openDigestCache, RACY_WINDOW_NS, type DigestCache } from '../../packages/bundler/src/snaps/digest-cache.ts';
import { resolveSnaps } from '../../packages/bundler/src/snaps/resolve-snaps.ts';
import { baseManifest, makeKeys } from '../bundle/bundle-helpers.ts';
import { makeSnap } from '../support/snap-fixture.ts';
import { testdir } from '../support/tmpdir.ts';

const spec: Spec = {
  apiVersion: 'airgap/v1alpha1',
  kind: 'Bundle',
  metadata: { name: 't' },
  k8s: { channel: '1.34-classic/stable', snapd: true },
  sources: { snapsDir: './snaps' },
};
const keys = makeKeys();
const SNAPS = ['snapd_100.snap', 'core22_200.snap', 'k8s_300.snap'];

/** Snaps whose ctime is older than the racy window: a digest verified now can be cached. */
async function site(): Promise<string> {
  const dir = await testdir();
  const snaps = path.join(dir, 'snaps');
  await makeSnap({ dir: snaps, name: 'snapd', revision: 100, type: 'snapd' });
  await makeSnap({ dir: snaps, name: 'core22', revision: 200, type: 'base' });
  await makeSnap({ dir: snaps, name: 'k8s', revision: 300, base: 'core22', confinement: 'classic', payloadBytes: 3 * 1024 * 1024 });
  await sleep(Number(RACY_WINDOW_NS / 1_000_000n) + 100);
  return dir;
}

/** What `bundler build` does with the snaps: resolve (assertions, cache), then copy with the expected SHA3-384. */
async function build(dir: string, out = 'bundle.tar'): Promise<{ digests: DigestCache; sha256: Record<string, string> }> {
  const cacheDir = path.join(dir, 'cache');
  const digests = await openDigestCache(cacheDir);
  const snaps = await resolveSnaps({ spec, specDir: dir, frozen: false, cacheDir, deferDigestCheck: true, digests });
  const written = await writeBundle({
    out: path.join(dir, out),
    manifest: baseManifest(keys.publicKey.fingerprint),
    sources: snaps.map((s) => ({ path: `snaps/${path.basename(s.snapPath)}`, file: s.snapPath, size: s.size, expect: snapDigestExpectation(s) })),
    key: keys.privateKey,
  });
  return { digests, sha256: Object.fromEntries(written.manifest.entries.map((e) => [e.path, e.sha256])) };
}

const sha256Of = async (file: string) =>
  createHash('sha256')
    .update(await readFile(file))
    .digest('hex');

/** Same size, same mtime, other bytes: only the ctime (and the content) tell. */
async function alter(file: string): Promise<void> {
  const before = await stat(file);
  const fh = await open(file, 'r+');
  await fh.write(Buffer.from('altered!'), 0, 8, before.size - 4096);
  await fh.close();
  await utimes(file, before.atime, before.mtime);
}

describe('verified-digest cache', () => {
  it('does not hash an unchanged snap again, and the bundle still has the SHA-256 of the bytes written', async () => {
    const dir = await site();
    const first = await build(dir, 'a.tar');
    expect(first.digests.counts).toEqual({ hits: 0, misses: 3, recorded: 3 });
    const second = await build(dir, 'b.tar');
    expect(second.digests.counts).toEqual({ hits: 3, misses: 0, recorded: 0 });
    for (const snap of SNAPS) expect(second.sha256[`snaps/${snap}`]).toBe(await sha256Of(path.join(dir, 'snaps', snap)));
    expect(await readFile(path.join(dir, 'b.tar'))).toEqual(await readFile(path.join(dir, 'a.tar')));
  });

  it('hashes a touched snap again (same content: the build goes on and caches it once it is old enough)', async () => {
    const dir = await site();
    await build(dir);
    const k8s = path.join(dir, 'snaps/k8s_300.snap');
    const s = await stat(k8s);
    await utimes(k8s, s.atime, s.mtime); // ctime changes, nothing else
    const after = await build(dir);
    expect(after.digests.counts).toEqual({ hits: 2, misses: 1, recorded: 0 });
  });

  it('a snap changed behind the cache (same size and mtime) is hashed again and refused', async () => {
    const dir = await site();
    await build(dir);
    await alter(path.join(dir, 'snaps/k8s_300.snap'));
    await expect(build(dir, 'bad.tar')).rejects.toMatchObject({ code: 'DIGEST_MISMATCH', message: expect.stringContaining('k8s_300.snap has SHA3-384') });
    await expect(stat(path.join(dir, 'bad.tar'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('a tampered entry cannot put a wrong snap into a bundle: a key that does not match is a miss, a digest that is not the asserted one too', async () => {
    const dir = await site();
    await build(dir);
    const cacheFile = path.join(dir, 'cache/verified-digests.json');
    const cache = JSON.parse(await readFile(cacheFile, 'utf8')) as { files: Record<string, Record<string, string>> };
    const k8s = path.join(dir, 'snaps/k8s_300.snap');
    // The entry claims another digest for the file as it is: not the assertion's, so not trusted.
    cache.files[k8s]!['sha3-384'] = 'A'.repeat(64);
    await writeFile(cacheFile, JSON.stringify(cache));
    const rehashed = await build(dir);
    expect(rehashed.digests.counts).toEqual({ hits: 2, misses: 1, recorded: 1 });
    // The file changes; the entry (with the asserted digest) is for the file as it was: hashed, refused.
    await alter(k8s);
    await expect(build(dir, 'bad.tar')).rejects.toMatchObject({ code: 'DIGEST_MISMATCH' });
  });

  it('ignores a damaged cache file and writes a good one', async () => {
    const dir = await site();
    await build(dir);
    const cacheFile = path.join(dir, 'cache/verified-digests.json');
    for (const junk of ['{"version": 1, "files": {"x": 1', 'null', '{"version": 2, "files": {}}', '{"version": 1, "files": {"/a": {"dev": "x"}}}']) {
      await writeFile(cacheFile, junk);
      const r = await build(dir);
      expect(r.digests.counts).toEqual({ hits: 0, misses: 3, recorded: 3 });
      expect(JSON.parse(await readFile(cacheFile, 'utf8'))).toMatchObject({ version: 1 });
    }
  });

  it('bundler lock (no copy) hashes a snap once and then takes it from the cache', async () => {
    const dir = await site();
    const cacheDir = path.join(dir, 'cache');
    const lock = async () => {
      const digests = await openDigestCache(cacheDir);
      await resolveSnaps({ spec, specDir: dir, frozen: false, cacheDir, deferDigestCheck: false, digests });
      return digests.counts;
    };
    expect(await lock()).toEqual({ hits: 0, misses: 3, recorded: 3 });
    expect(await lock()).toEqual({ hits: 3, misses: 0, recorded: 0 });
  });
});
