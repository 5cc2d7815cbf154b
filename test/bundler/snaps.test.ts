import { rename } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Spec } from '@airgap/core';
import { checkSnap } from '../../packages/bundler/src/snaps/check-snap.ts';
import { resolveSnaps } from '../../packages/bundler/src/snaps/resolve-snaps.ts';
import { readSnapImages, readSnapMeta } from '../../packages/bundler/src/snaps/snap-meta.ts';
import { parseAssertions } from '../../packages/bundler/src/snaps/parse-assertions.ts';
import { makeSnap } from '../support/snap-fixture.ts';
import { testdir } from '../support/tmpdir.ts';

function spec(patch: Partial<Spec['k8s']> = {}, extra: Partial<Spec> = {}): Spec {
  return {
    apiVersion: 'airgap/v1alpha1',
    kind: 'Bundle',
    metadata: { name: 't' },
    k8s: { channel: '1.34-classic/stable', snapd: true, ...patch },
    sources: { snapsDir: '.' },
    ...extra,
  };
}

async function standardSnaps(dir: string) {
  await makeSnap({ dir, name: 'snapd', revision: 100, type: 'snapd' });
  await makeSnap({ dir, name: 'core22', revision: 200, type: 'base' });
  return makeSnap({
    dir,
    name: 'k8s',
    revision: 300,
    base: 'core22',
    confinement: 'classic',
    images: ['ghcr.io/canonical/coredns:1.14.6-ck0', '# comment', '', 'ghcr.io/canonical/k8s-snap/pause:3.10'],
  });
}

describe('snaps from local sources', () => {
  it('checks each snap against its assertion, reads the base from snap.yaml, orders snapd, base, k8s', async () => {
    const dir = await testdir();
    const k8s = await standardSnaps(dir);
    const snaps = await resolveSnaps({ spec: spec(), specDir: dir, frozen: false, cacheDir: path.join(dir, 'cache') });
    expect(snaps.map((s) => [s.name, s.role, s.revision, s.classic])).toEqual([
      ['snapd', 'snapd', 100, false],
      ['core22', 'base', 200, false],
      ['k8s', 'k8s', 300, true],
    ]);
    expect(snaps[2]!.sha3_384).toBe(k8s.sha3_384);
    expect(await readSnapImages(k8s.snapPath)).toEqual(['ghcr.io/canonical/coredns:1.14.6-ck0', 'ghcr.io/canonical/k8s-snap/pause:3.10']);
    expect((await readSnapMeta(k8s.snapPath)).base).toBe('core22');
  });

  it('leaves snapd out with k8s.snapd: false, and picks the pinned revision', async () => {
    const dir = await testdir();
    await standardSnaps(dir);
    await makeSnap({ dir, name: 'k8s', revision: 301, base: 'core22', confinement: 'classic' });
    const latest = await resolveSnaps({ spec: spec({ snapd: false }), specDir: dir, frozen: false, cacheDir: dir });
    expect(latest.map((s) => `${s.name}_${s.revision}`)).toEqual(['core22_200', 'k8s_301']);
    const pinned = await resolveSnaps({ spec: spec({ snapd: false, revision: 300 }), specDir: dir, frozen: false, cacheDir: dir });
    expect(pinned.map((s) => `${s.name}_${s.revision}`)).toEqual(['core22_200', 'k8s_300']);
  });

  it('requires the base the k8s snap names (core20 for 1.32, core22 for 1.34: never hard-coded)', async () => {
    const dir = await testdir();
    await makeSnap({ dir, name: 'snapd', revision: 100, type: 'snapd' });
    await makeSnap({ dir, name: 'core22', revision: 200, type: 'base' });
    await makeSnap({ dir, name: 'k8s', revision: 300, base: 'core20', confinement: 'classic' });
    await expect(resolveSnaps({ spec: spec(), specDir: dir, frozen: false, cacheDir: dir })).rejects.toMatchObject({
      code: 'SNAP_NOT_FOUND',
      message: expect.stringContaining('core20_*.snap is not in'),
      hint: expect.stringContaining('snap download core20'),
    });
  });

  it('refuses a snap whose SHA3-384 does not match its assertion, naming it', async () => {
    const dir = await testdir();
    const f = await makeSnap({ dir, name: 'k8s', revision: 300, base: 'core22', tamper: { sha3: 'A'.repeat(64) } });
    await expect(checkSnap('k8s', f.snapPath, f.assertPath)).rejects.toMatchObject({
      code: 'DIGEST_MISMATCH',
      message: expect.stringMatching(/^k8s_300\.snap has SHA3-384 .* its snap-revision assertion says A+$/),
    });
  });

  it('refuses a snap whose size does not match its assertion', async () => {
    const dir = await testdir();
    const f = await makeSnap({ dir, name: 'k8s', revision: 300, base: 'core22', tamper: { size: 123 } });
    await expect(checkSnap('k8s', f.snapPath, f.assertPath)).rejects.toMatchObject({
      code: 'SIZE_MISMATCH',
      message: expect.stringContaining('k8s_300.snap is'),
    });
  });

  it('refuses a snap whose declaration names another snap', async () => {
    const dir = await testdir();
    const f = await makeSnap({ dir, name: 'k8s', revision: 300, base: 'core22', tamper: { declaredName: 'microk8s' } });
    await expect(checkSnap('k8s', f.snapPath, f.assertPath)).rejects.toMatchObject({
      code: 'ASSERT_INVALID',
      message: 'k8s_300.snap: its snap-declaration is for snap "microk8s", not "k8s"',
    });
  });

  it('refuses a snap file whose squashfs holds another snap, even with a matching assertion', async () => {
    const dir = await testdir();
    await standardSnaps(dir);
    const other = await testdir();
    const k8sAsHelm = await makeSnap({ dir: other, name: 'k8s', revision: 5, tamper: { declaredName: 'helm' } });
    await rename(k8sAsHelm.snapPath, path.join(dir, 'helm_5.snap'));
    await rename(k8sAsHelm.assertPath, path.join(dir, 'helm_5.assert'));
    const withHelm = spec({}, { snaps: [{ name: 'helm', channel: 'latest/stable', classic: false }] });
    await expect(resolveSnaps({ spec: withHelm, specDir: dir, frozen: false, cacheDir: dir })).rejects.toMatchObject({
      code: 'SNAP_INVALID',
      message: 'helm_5.snap contains snap "k8s", not "helm"',
    });
  });

  it('parses assertion streams, and rejects text that is not one', () => {
    expect(parseAssertions('type: snap-revision\nsnap-size: 5\n\nSIG')).toEqual([
      { type: 'snap-revision', headers: { type: 'snap-revision', 'snap-size': '5' }, body: '' },
    ]);
    expect(
      parseAssertions('type: a\nbody-length: 3\n\nabc\n\nSIG\n\ntype: b\nx:\n  multi\n  line\n\nSIG2\n')?.map((a) => [a.type, a.body, a.headers.x]),
    ).toEqual([
      ['a', 'abc', undefined],
      ['b', '', 'multi\nline'],
    ]);
    expect(parseAssertions('<html>not an assertion</html>')).toBeUndefined();
    expect(parseAssertions('type: a\nbody-length: 99\n\nshort\n\nSIG')).toBeUndefined();
  });
});
