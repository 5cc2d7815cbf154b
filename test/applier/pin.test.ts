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

const labels = (address: string) => ctrImages(address, 'labels');

describe('imported images are pinned', () => {
  test.each([
    ['1.34', false],
    ['1.32', true],
  ] as const)('k8s %s: every imported image carries io.cri-containerd.pinned=pinned (note on 1.32: %s)', async (release, note) => {
    const containerd = await startContainerd();
    const node = await makeNode({ release });
    const b = await makeBundle({ dir: node.work, keys: makeKeys(), snaps: [], images: IMAGES, release });
    const r = await node.applier(['apply', b.file, '--pub', b.pubFile, '--ctr', 'ctr', '--containerd-address', containerd.address]);
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
    expect(await labels(containerd.address)).toEqual({
      'docker.io/library/hello:1.0': 'io.cri-containerd.pinned=pinned',
      'ghcr.io/canonical/k8s-snap/pause:3.10': 'io.cri-containerd.pinned=pinned',
    });
    expect(r.stdout).toContain('pinned 2 image(s)');
    expect(r.stdout.includes('does not honour pinning')).toBe(note);
    const again = await node.applier(['apply', b.file, '--pub', b.pubFile, '--ctr', 'ctr', '--containerd-address', containerd.address]);
    expect(again.stdout).toMatch(/^ok +images +nothing to change/m);
  });

  test('an image the snap side-loaded (no label) is pinned by the next run', async () => {
    const node = await makeNode();
    const b = await makeBundle({ dir: node.work, snaps: [], images: IMAGES });
    expect((await node.applier(['apply', b.file, '--pub', b.pubFile])).exitCode).toBe(0);
    const containerd = await startContainerd();
    const dir = path.join(node.root, 'var/snap/k8s/common/images');
    // What the snap does when its containerd starts: import each tar, unlabelled.
    for (const t of await readdir(dir)) await ctr(containerd.address, 'images', 'import', path.join(dir, t));
    expect(Object.values(await labels(containerd.address))).toEqual(['-', '-']);
    const r = await node.applier(['apply', b.file, '--pub', b.pubFile, '--ctr', 'ctr', '--containerd-address', containerd.address]);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain('pin docker.io/library/hello:1.0');
    expect(r.stdout).not.toContain('import docker.io/library/hello:1.0');
    expect(Object.values(await labels(containerd.address))).toEqual(['io.cri-containerd.pinned=pinned', 'io.cri-containerd.pinned=pinned']);
  });
});
