import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { AirgapError, tempPathFor, type BundleImage } from '@airgap/core';
import { ociTarStream } from '../images/oci-tar.ts';
import { nodePath } from '../node/node-path.ts';
import { isSocket, pathExists } from '../node/path-exists.ts';
import { ownedBy, removeOwned, removeStaleTemps } from '../state/owned-files.ts';
import { ctrImages, ctrImport, type CtrOptions } from '../tools/ctr.ts';
import type { Change, Node, Step } from '../types.ts';

/** The k8s snap imports every *.tar here when its containerd starts, renaming each to *.tar.loaded (ERRATA). */
export const SIDE_LOAD_DIR = '/var/snap/k8s/common/images';

export function sideLoadPath(image: BundleImage): string {
  // The digest names a file: only sha256:<64 hex> can, so a hostile manifest cannot steer the path.
  const hex = /^sha256:([a-f0-9]{64})$/.exec(image.digest)?.[1];
  if (!hex) throw new AirgapError('BUNDLE_INVALID', `image ${image.ref} has digest ${JSON.stringify(image.digest)}, not sha256:<64 hex>`, { hint: 'rebuild the bundle with `bundler build`' });
  return `${SIDE_LOAD_DIR}/airgap-${hex}.tar`;
}

const ctrOptions = (node: Node): CtrOptions => ({ ctr: node.ctrPath, address: node.containerdAddress });
const containerdRunning = (node: Node) => isSocket(node.containerdAddress);

export const images: Step = {
  id: 'images',
  describe: () => "images into containerd's k8s.io namespace (imported now, or side-loaded when containerd starts)",
  skip(node) {
    return node.bundle.manifest.images.length === 0 && ownedBy(node, 'images').length === 0 ? 'the bundle has no images' : undefined;
  },
  async check(node) {
    const changes: Change[] = [];
    const wanted = node.bundle.manifest.images;
    if (await containerdRunning(node)) {
      const present = await ctrImages(ctrOptions(node));
      for (const image of wanted) {
        const have = present.get(image.ref);
        if (have !== image.digest) changes.push({ action: 'import', target: image.ref, why: have ? `containerd has ${have}` : 'not in containerd' });
      }
    } else {
      for (const image of wanted) {
        const file = nodePath(node.root, sideLoadPath(image));
        if (!(await pathExists(file)) && !(await pathExists(`${file}.loaded`))) changes.push({ action: 'side-load', target: image.ref, why: `containerd is not running (${node.containerdAddress}); loaded when it starts` });
      }
    }
    // Side-load tars of images this bundle no longer has; images already in containerd are left
    // alone (a running pod may use them).
    const keep = new Set(wanted.map(sideLoadPath));
    for (const abs of ownedBy(node, 'images')) if (!keep.has(abs)) changes.push({ action: 'remove', target: abs, why: 'image no longer in the bundle' });
    return changes;
  },
  async apply(node, changes) {
    const byRef = new Map(node.bundle.manifest.images.map((i) => [i.ref, i]));
    const toImport = changes.filter((c) => c.action === 'import').map((c) => byRef.get(c.target)!);
    if (toImport.length > 0) {
      // One stream holding only the missing images and the blobs they need.
      await ctrImport(ctrOptions(node), await ociTarStream(node.bundle, toImport));
      node.progress(`  imported ${toImport.map((i) => i.ref).join(', ')}`);
    }
    for (const c of changes) {
      if (c.action === 'side-load') await sideLoad(node, byRef.get(c.target)!);
      if (c.action === 'remove') {
        await rm(nodePath(node.root, `${c.target}.loaded`), { force: true });
        await removeOwned(node, c.target);
      }
    }
  },
};

async function sideLoad(node: Node, image: BundleImage): Promise<void> {
  const abs = sideLoadPath(image);
  const file = nodePath(node.root, abs);
  node.state.value.files[abs] = { sha256: image.digest, step: 'images' };
  await node.state.save();
  await mkdir(path.dirname(file), { recursive: true, mode: 0o755 });
  await removeStaleTemps(file);
  // The snap picks up *.tar only: the temp name must not end in .tar, and the rename is atomic.
  const tmp = tempPathFor(file);
  try {
    await pipeline(await ociTarStream(node.bundle, [image]), createWriteStream(tmp, { mode: 0o644 }));
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  node.progress(`  side-loaded ${image.ref} into ${abs}`);
}
