import { execa } from 'execa';
import { readdir, rename } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { makeBundle, makeKeys, type FixtureImage } from '../support/bundle-fixture.ts';
import { containerdForTest as startContainerd, ctr, ctrImages } from '../support/containerd.ts';
import { makeNode } from './node-env.ts';

const HELLO: FixtureImage = { ref: 'docker.io/library/hello:1.0', files: { 'hello.txt': 'hello\n' } };
const WEB: FixtureImage = { ref: 'docker.io/library/web:1.0', files: { 'web.txt': 'web\n' } };
const PAUSE: FixtureImage = { ref: 'ghcr.io/canonical/k8s-snap/pause:3.10', files: { 'pause.txt': 'pause\n' } };
const FOREIGN: FixtureImage = { ref: 'docker.io/library/foreign:1.0', files: { 'foreign.txt': 'not airgap\n' } };

/** Name → LABELS column, from the real `ctr images ls`. */
const images = (address: string) => ctrImages(address, 'labels');

describe('prune with a real containerd', () => {
  test('an image of the old bundle a container uses stays, an unused one goes, a foreign one is never touched; --no-prune keeps them; plan lists what would go', async () => {
    const containerd = await startContainerd();
    const node = await makeNode();
    const keys = makeKeys();
    const old = await makeBundle({ dir: node.work, out: 'old.tar', keys, snaps: [], images: [HELLO, WEB, PAUSE] });
    const next = await makeBundle({ dir: node.work, out: 'next.tar', keys, snaps: [], images: [PAUSE] });
    const foreign = await makeBundle({ dir: node.work, out: 'foreign.tar', keys, snaps: [], images: [FOREIGN] });
    const args = (file: string, ...more: string[]) => [
      'apply',
      file,
      '--pub',
      old.pubFile,
      '--ctr',
      'ctr',
      '--containerd-address',
      containerd.address,
      ...more,
    ];

    expect((await node.applier(args(old.file))).exitCode).toBe(0);
    // An image airgap did not import: loaded by hand from another OCI tar.
    await execa('tar', ['-xf', foreign.file, '-C', node.work, 'images']);
    await execa('tar', ['-cf', path.join(node.work, 'foreign-oci.tar'), '-C', path.join(node.work, 'images'), '.']);
    await ctr(containerd.address, 'images', 'import', path.join(node.work, 'foreign-oci.tar'));
    // A container made from the old bundle's web image: containerd now says web is in use.
    await ctr(containerd.address, 'containers', 'create', '--snapshotter', 'native', WEB.ref, 'web-1');
    expect(Object.keys(await images(containerd.address)).sort()).toEqual([FOREIGN.ref, HELLO.ref, WEB.ref, PAUSE.ref].sort());

    const plan = await node.applier(['plan', next.file, '--pub', old.pubFile, '--ctr', 'ctr', '--containerd-address', containerd.address, '--json']);
    const row = (JSON.parse(plan.stdout) as { steps: { id: string; changes: { action: string; target: string }[] }[] }).steps.find((s) => s.id === 'prune')!;
    expect(row.changes.map((c) => `${c.action} ${c.target}`)).toEqual([`remove ${HELLO.ref}`, `unpin ${WEB.ref}`]);

    const kept = await node.applier(args(next.file, '--no-prune'));
    expect(kept.exitCode).toBe(0);
    expect(kept.stdout).toMatch(/^skip +prune +--no-prune/m);
    expect(Object.keys(await images(containerd.address))).toContain(HELLO.ref);

    const pruned = await node.applier(args(next.file));
    expect(pruned.stderr).toBe('');
    expect(pruned.exitCode).toBe(0);
    expect(pruned.stdout).toContain(`remove ${HELLO.ref}`);
    const after = await images(containerd.address);
    expect(Object.keys(after).sort()).toEqual([FOREIGN.ref, WEB.ref, PAUSE.ref].sort());
    expect(after[WEB.ref]).toBe('-'); // kept for its container, no longer pinned
    expect(after[PAUSE.ref]).toBe('io.cri-containerd.pinned=pinned');

    // Once its container is gone, the next run removes web too.
    await ctr(containerd.address, 'containers', 'rm', 'web-1');
    const again = await node.applier(args(next.file));
    expect(again.exitCode).toBe(0);
    expect(Object.keys(await images(containerd.address)).sort()).toEqual([FOREIGN.ref, PAUSE.ref].sort());
  });

  test('side-load copies (*.tar.loaded) go once their image is in containerd', async () => {
    const node = await makeNode();
    const b = await makeBundle({ dir: node.work, snaps: [], images: [HELLO, PAUSE] });
    expect((await node.applier(['apply', b.file, '--pub', b.pubFile])).exitCode).toBe(0);
    const dir = path.join(node.root, 'var/snap/k8s/common/images');
    const containerd = await startContainerd();
    // What the snap does when its containerd starts: import each tar, then rename it *.tar.loaded.
    for (const t of await readdir(dir)) {
      await ctr(containerd.address, 'images', 'import', path.join(dir, t));
      await rename(path.join(dir, t), path.join(dir, `${t}.loaded`));
    }
    const r = await node.applier(['apply', b.file, '--pub', b.pubFile, '--ctr', 'ctr', '--containerd-address', containerd.address]);
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(/remove-copy +\/var\/snap\/k8s\/common\/images\/airgap-[a-f0-9]{64}\.tar\.loaded/);
    expect(await readdir(dir).catch(() => [])).toEqual([]); // the emptied folder goes too
    expect(Object.keys(await images(containerd.address)).sort()).toEqual([HELLO.ref, PAUSE.ref].sort());
  });
});
