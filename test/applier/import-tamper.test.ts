import { open, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { loadPublicKey, readEntry, verifyBundle, type VerifiedBundle } from '@airgap/core';
import { makeBundle, makeKeys, type FixtureImage } from '../support/bundle-fixture.ts';
import { containerdForTest as startContainerd, ctrImages } from '../support/containerd.ts';
import { pausedAt, pausedLine } from '../support/pause-at.ts';
import { makeNode } from './node-env.ts';

const IMAGES: FixtureImage[] = [
  { ref: 'docker.io/library/hello:1.0', files: { 'hello.txt': 'hello\n' } },
  { ref: 'ghcr.io/canonical/k8s-snap/pause:3.10', files: { 'pause.txt': 'pause\n' } },
];

/** Where in the bundle file the first layer of the last image lies: a blob only the import stream reads (the walk reads manifests, not layers). */
async function layerOffset(bundle: VerifiedBundle): Promise<{ path: string; offset: number }> {
  const layout = bundle.manifest.imageLayout!;
  const image = bundle.manifest.images.at(-1)!;
  const manifest = JSON.parse((await readEntry(bundle, `${layout}/blobs/sha256/${image.digest.slice(7)}`)).toString('utf8')) as {
    layers: { digest: string }[];
  };
  const entry = `${layout}/blobs/sha256/${manifest.layers[0]!.digest.slice(7)}`;
  const location = bundle.locations.find((l) => l.entry.path === entry)!;
  return { path: entry, offset: location.dataOffset + Math.floor(location.entry.size / 2) };
}

async function flipByte(file: string, offset: number): Promise<void> {
  const fh = await open(file, 'r+');
  try {
    const b = Buffer.alloc(1);
    await fh.read(b, 0, 1, offset);
    b[0] = b[0]! ^ 0xff;
    await fh.write(b, 0, 1, offset);
  } finally {
    await fh.close();
  }
}

describe('the import stream checks every blob again', () => {
  test('a layer changed in the bundle after verify: DIGEST_MISMATCH, containerd names and labels nothing; with the bundle whole again the re-run converges', async () => {
    const containerd = await startContainerd();
    const node = await makeNode();
    const b = await makeBundle({ dir: node.work, keys: makeKeys(), snaps: [], images: IMAGES });
    const verified = await verifyBundle(b.file, { keys: [await loadPublicKey(b.pubFile)] });
    const layer = await layerOffset(verified);
    const args = ['apply', b.file, '--pub', b.pubFile, '--ctr', 'ctr', '--containerd-address', containerd.address];

    // Verified and preflighted: stopped just before the images step, when the bundle changes under it.
    const resume = path.join(node.work, 'resume');
    const child = node.spawnApplier(args, { AIRGAP_TEST_PAUSE_AT: 'before:images', AIRGAP_TEST_RESUME_FILE: resume });
    await pausedAt(child, 'before:images');
    await flipByte(b.file, layer.offset);
    await writeFile(resume, '');
    const r = await child;
    const stderr = String(r.stderr).replace(pausedLine('before:images'), '');
    expect(r.exitCode).toBe(2);
    expect(stderr).toContain(`error[DIGEST_MISMATCH]: ${layer.path} has sha256`);
    expect(await ctrImages(containerd.address, 'digest')).toEqual({});

    await flipByte(b.file, layer.offset);
    const again = await node.applier(args);
    expect(again.stderr).toBe('');
    expect(again.exitCode).toBe(0);
    expect(await ctrImages(containerd.address, 'labels')).toEqual(Object.fromEntries(IMAGES.map((i) => [i.ref, 'io.cri-containerd.pinned=pinned'])));
  });
});
