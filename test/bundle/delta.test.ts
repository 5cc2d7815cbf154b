import { readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { isAirgapError, validateManifest, type BundleManifest } from '@airgap/core';
import { cli } from '../support/cli.ts';
import { makeSnap } from '../support/snap-fixture.ts';
import { site } from '../support/site-fixture.ts';
import { testdir } from '../support/tmpdir.ts';
import { deltaPair } from './delta-fixture.ts';

const EPOCH = { SOURCE_DATE_EPOCH: '1700000000' };
const blobs = (m: BundleManifest) => new Set(m.entries.filter((e) => e.path.startsWith('images/blobs/')).map((e) => e.path));

describe('delta bundles', () => {
  it('of six images with one changed carry that image’s new blobs and the small files only; the omitted list is signed, SHA256SUMS matches the tar', async () => {
    const dir = await testdir();
    // 1 MiB layers: per-entry overhead (tar headers, the six small image manifests, three assertions) stays small beside them.
    const { base, delta, baseDigest } = await deltaPair(dir, { layerBytes: 1024 * 1024 });
    const m = delta.manifest;
    expect(m.base?.digest).toBe(`sha256:${baseDigest}`);
    expect(m.base?.name).toBe('site');
    expect(m.base?.sequence).toBe(1);
    // 5 unchanged images × (config + layer) and the 3 snaps, none of which is in the tar.
    expect(m.base?.omitted).toHaveLength(13);
    const inTar = new Set(m.entries.map((e) => e.path));
    for (const e of m.base!.omitted) expect(inTar.has(e.path)).toBe(false);
    expect(m.base!.omitted.filter((e) => e.path.startsWith('snaps/')).map((e) => e.path)).toEqual([
      'snaps/core22_1722.snap',
      'snaps/k8s_3001.snap',
      'snaps/snapd_21759.snap',
    ]);
    // Assertions, index.json and every image manifest stay; the new image's config and layer are new.
    expect(inTar.has('snaps/k8s_3001.assert')).toBe(true);
    expect(inTar.has('images/index.json')).toBe(true);
    const added = [...blobs(m)].filter((p) => !blobs(base.manifest).has(p));
    expect(added).toHaveLength(3); // its manifest, config and layer

    // What tar sees is what the manifest and SHA256SUMS list.
    const listed = (await execa('tar', ['-tf', delta.file])).stdout.split('\n');
    expect(listed).toEqual(['airgap/manifest.json', 'airgap/manifest.sig', ...m.entries.map((e) => e.path)]);
    await execa('tar', ['-xf', delta.file, '-C', dir]);
    expect((await execa('sha256sum', ['-c', '--strict', 'airgap/SHA256SUMS'], { cwd: dir })).exitCode).toBe(0);
    expect((await readFile(path.join(dir, 'airgap/SHA256SUMS'), 'utf8')).trim().split('\n')).toHaveLength(m.entries.length - 1);

    // Signed and verified like any bundle; its base digest is what `verify` prints for the base.
    const v = await cli('bundler', ['verify', delta.file, '--pub', delta.pubFile]);
    expect(v.stderr).toBe('');
    expect(v.exitCode).toBe(0);
    const vb = await cli('bundler', ['verify', base.file, '--pub', base.pubFile]);
    expect(vb.stdout).toContain(`digest  sha256:${baseDigest}`);

    // At most 1.05 × (the changed image's new blobs + the delta's signed head).
    expect((await cli('bundler', ['inspect', '--head', delta.file, '-o', path.join(dir, 'delta.head')])).exitCode).toBe(0);
    const headBytes = (await stat(path.join(dir, 'delta.head'))).size;
    const newBytes = m.entries.filter((e) => added.includes(e.path)).reduce((n, e) => n + e.size, 0);
    const deltaBytes = (await stat(delta.file)).size;
    const fullBytes = (await stat(base.file)).size;
    expect(deltaBytes).toBeLessThanOrEqual(1.05 * (newBytes + headBytes));
    expect(deltaBytes).toBeLessThan(fullBytes / 3);

    const i = await cli('bundler', ['inspect', delta.file]);
    expect(i.exitCode).toBe(0);
    expect(i.stdout).toMatch(new RegExp(`\\ndelta of sha256:${baseDigest} \\(site #1\\), leaves out 13 entries \\(\\d+\\.\\d [KMG]iB\\)\\n`));
    const j = JSON.parse((await cli('bundler', ['inspect', delta.file, '--json'])).stdout) as { delta: { omitted: number; omittedBytes: number } };
    expect(j.delta.omitted).toBe(13);
    expect(j.delta.omittedBytes).toBe(m.base!.omitted.reduce((n, e) => n + e.size, 0));
    // A full bundle has no delta line.
    expect((await cli('bundler', ['inspect', base.file])).stdout).not.toContain('delta of');
  });

  it('a manifest whose omitted list names anything but an image blob or a snap file, or an entry also in the tar, is refused', async () => {
    const dir = await testdir();
    const { delta } = await deltaPair(dir, { hosts: { 'docker.io/hosts.toml': 'server = "http://10.0.0.1:5000"\n' } });
    const m = delta.manifest;
    const hostile: [string, (x: BundleManifest) => void][] = [
      ['a hosts file', (x) => x.base!.omitted.push({ path: 'containerd/hosts.d/docker.io/hosts.toml', sha256: 'a'.repeat(64), size: 1 })],
      ['a blob under another name', (x) => x.base!.omitted.push({ path: `images/blobs/sha256/${'b'.repeat(64)}`, sha256: 'c'.repeat(64), size: 1 })],
      ['an entry also carried', (x) => x.base!.omitted.push({ path: x.entries[1]!.path, sha256: x.entries[1]!.sha256, size: x.entries[1]!.size })],
      ['an escaping path', (x) => x.base!.omitted.push({ path: '../../etc/passwd', sha256: 'a'.repeat(64), size: 1 })],
    ];
    for (const [what, mutate] of hostile) {
      const copy = structuredClone(m);
      mutate(copy);
      let err: unknown;
      try {
        validateManifest(copy);
      } catch (e) {
        err = e;
      }
      expect(isAirgapError(err), what).toBe(true);
      expect(['BUNDLE_INVALID', 'PATH_TRAVERSAL'], what).toContain((err as { code: string }).code);
    }
    expect(() => validateManifest(structuredClone(m))).not.toThrow();
  });

  it('bundler build --base OLD.head: a k8s revision bump carries about one snap; the head must verify with a trusted key', async () => {
    const dir = await site();
    const build = (args: string[]) => cli('bundler', ['build', 'airgap.yaml', '--key', 'keys/site.key', '--no-applier', ...args], { cwd: dir, env: EPOCH });
    const b = await build(['-o', 'base.tar']);
    expect(b.exitCode).toBe(0);
    expect((await cli('bundler', ['inspect', '--head', 'base.tar', '-o', 'base.head'], { cwd: dir })).exitCode).toBe(0);
    const baseDigest = /digest {2}(sha256:[0-9a-f]{64})/.exec(
      (await cli('bundler', ['verify', 'base.head', '--pub', 'keys/site.pub'], { cwd: dir })).stdout,
    )?.[1];
    expect(baseDigest).toBeDefined();

    // The k8s snap moves from revision 30 to 31; snapd and core20 stay.
    await rm(path.join(dir, 'downloads/k8s_30.snap'));
    await rm(path.join(dir, 'downloads/k8s_30.assert'));
    await makeSnap({ dir: path.join(dir, 'downloads'), name: 'k8s', revision: 31, base: 'core20', confinement: 'classic', payloadBytes: 200_000 });
    // The spec pins the new revision (else the lock keeps the build on 30).
    const spec = await readFile(path.join(dir, 'airgap.yaml'), 'utf8');
    await writeFile(path.join(dir, 'airgap.yaml'), spec.replace('  channel: 1.32-classic/stable', '  channel: 1.32-classic/stable\n  revision: 31'));
    const d = await build(['-o', 'delta.tar', '--base', 'base.head']);
    expect(d.stderr).toBe('');
    expect(d.exitCode).toBe(0);
    expect(d.stdout).toContain(`delta of ${baseDigest!} (test-site #1), leaves out 2 entries`);
    const full = await build(['-o', 'full.tar']);
    expect(full.exitCode).toBe(0);
    const k8s = (await stat(path.join(dir, 'downloads/k8s_31.snap'))).size;
    const deltaBytes = (await stat(path.join(dir, 'delta.tar'))).size;
    expect(deltaBytes).toBeLessThan((await stat(path.join(dir, 'full.tar'))).size);
    expect(deltaBytes).toBeLessThan(k8s + 64 * 1024);
    const v = await cli('bundler', ['verify', 'delta.tar', '--pub', 'keys/site.pub'], { cwd: dir });
    expect(v.exitCode).toBe(0);
    // From the base bundle itself: the same delta, byte for byte.
    expect((await build(['-o', 'delta2.tar', '--base', 'base.tar'])).exitCode).toBe(0);
    expect((await readFile(path.join(dir, 'delta2.tar'))).equals(await readFile(path.join(dir, 'delta.tar')))).toBe(true);

    // A head signed by a key the build does not trust, or altered: refused, nothing written.
    expect((await cli('bundler', ['keygen', '--out', 'keys/other'], { cwd: dir })).exitCode).toBe(0);
    const other = await cli('bundler', ['build', 'airgap.yaml', '--key', 'keys/other.key', '--no-applier', '-o', 'x.tar', '--base', 'base.head'], {
      cwd: dir,
      env: EPOCH,
    });
    expect(other.exitCode).toBe(2);
    expect(other.stderr).toContain('error[SIGNATURE_INVALID]: base.head is not signed by a trusted key');
    const head = await readFile(path.join(dir, 'base.head'));
    const at = head.indexOf('"name":"test-site"');
    expect(at).toBeGreaterThan(0);
    head.write('"name":"test-sitf"', at);
    await writeFile(path.join(dir, 'bad.head'), head);
    const bad = await build(['-o', 'y.tar', '--base', 'bad.head']);
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toContain('error[SIGNATURE_INVALID]');
    await expect(stat(path.join(dir, 'x.tar'))).rejects.toThrow();
    await expect(stat(path.join(dir, 'y.tar'))).rejects.toThrow();
  });
});
