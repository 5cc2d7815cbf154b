import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { makeBundle, makeKeys, type FixtureImage } from '../support/bundle-fixture.ts';
import { containerdForTest as startContainerd, ctr, ctrImages } from '../support/containerd.ts';
import { makeNode } from './node-env.ts';

const IMAGES: FixtureImage[] = [
  { ref: 'docker.io/library/hello:1.0', files: { 'hello.txt': 'hello\n' } },
  { ref: 'ghcr.io/canonical/k8s-snap/pause:3.10', files: { 'pause.txt': 'pause\n' } },
];

const k8sImages = (address: string) => ctrImages(address, 'digest');

describe('images into a real containerd', () => {
  test('imports missing images into k8s.io by streaming an OCI tar to ctr; present ones are skipped', async () => {
    const containerd = await startContainerd();
    const node = await makeNode();
    const keys = makeKeys();
    const one = await makeBundle({ dir: node.work, out: 'one.tar', keys, snaps: [], images: IMAGES.slice(0, 1) });
    const args = (file: string) => ['apply', file, '--pub', one.pubFile, '--ctr', 'ctr', '--containerd-address', containerd.address];

    const first = await node.applier(args(one.file));
    expect(first.stderr).toBe('');
    expect(first.exitCode).toBe(0);
    expect(first.stdout).toContain('import docker.io/library/hello:1.0 (not in containerd)');
    expect(await k8sImages(containerd.address)).toEqual({ 'docker.io/library/hello:1.0': one.manifest.images[0]!.digest });

    const both = await makeBundle({ dir: node.work, out: 'both.tar', keys, snaps: [], images: IMAGES });
    const second = await node.applier(args(both.file));
    expect(second.exitCode).toBe(0);
    expect(second.stdout).toContain('import ghcr.io/canonical/k8s-snap/pause:3.10');
    expect(second.stdout).not.toContain('import docker.io/library/hello:1.0');
    const digests = Object.fromEntries(both.manifest.images.map((i) => [i.ref, i.digest]));
    expect(await k8sImages(containerd.address)).toEqual(digests);
    // Nothing was side-loaded: containerd was running.
    expect(await readdir(path.join(node.root, 'var/snap/k8s/common/images')).catch(() => [])).toEqual([]);

    const third = await node.applier(args(both.file));
    expect(third.exitCode).toBe(0);
    expect(third.stdout).toMatch(/^ok +images +nothing to change/m);
    expect(third.stdout).toContain('converged: nothing changed');
  });

  test('a side-loaded tar (containerd not running) is an OCI archive ctr imports with the right names', async () => {
    const node = await makeNode();
    const b = await makeBundle({ dir: node.work, snaps: [], images: IMAGES });
    const r = await node.applier(['apply', b.file, '--pub', b.pubFile]);
    expect(r.exitCode).toBe(0);
    const dir = path.join(node.root, 'var/snap/k8s/common/images');
    const tars = (await readdir(dir)).sort();
    expect(tars).toEqual(b.manifest.images.map((i) => `airgap-${i.digest.slice(7)}.tar`).sort());
    // What the snap does when containerd starts: import each tar.
    const containerd = await startContainerd();
    for (const t of tars) await ctr(containerd.address, 'images', 'import', path.join(dir, t));
    expect(await k8sImages(containerd.address)).toEqual(Object.fromEntries(b.manifest.images.map((i) => [i.ref, i.digest])));
  });
});
