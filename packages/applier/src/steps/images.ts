import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { AirgapError, tempPathFor, type BundleImage } from '@airgap/core';
import { ociTarStream } from '../images/oci-tar.ts';
import { nodeArch } from '../node/arch.ts';
import { nodePath } from '../node/node-path.ts';
import { isSocket, pathExists } from '../node/path-exists.ts';
import { ownedBy, removeOwned, removeStaleTemps } from '../state/owned-files.ts';
import { bundleRelease, releaseBefore } from '../node/k8s-release.ts';
import { ctrImages, ctrImport, ctrLabelEach, PINNED_LABEL, type CtrImage, type CtrOptions } from '../tools/ctr.ts';
import type { NodeFacts, StepContext } from '../types.ts';
import { defineStep, unreachable } from './define-step.ts';

const ID = 'images';

export type ImageChange =
  | { kind: 'import'; ref: string; why: string }
  | { kind: 'side-load'; ref: string; why: string }
  /** In containerd at the bundle's digest (imported earlier, or side-loaded by the snap) but not pinned. */
  | { kind: 'pin'; ref: string; why: string }
  /** A side-load tar of an image this bundle no longer has; images already in containerd are left alone (a running pod may use them). */
  | { kind: 'remove'; abs: string; why: string };

/** The k8s snap imports every *.tar here when its containerd starts, renaming each to *.tar.loaded (ERRATA). */
export const SIDE_LOAD_DIR = '/var/snap/k8s/common/images';

export function sideLoadPath(image: BundleImage): string {
  // The digest names a file: only sha256:<64 hex> can, so a hostile manifest cannot steer the path.
  const hex = /^sha256:([a-f0-9]{64})$/.exec(image.digest)?.[1];
  if (!hex)
    throw new AirgapError('BUNDLE_INVALID', `image ${image.ref} has digest ${JSON.stringify(image.digest)}, not sha256:<64 hex>`, {
      hint: 'rebuild the bundle with `bundler build`',
    });
  return `${SIDE_LOAD_DIR}/airgap-${hex}.tar`;
}

const ctrOptions = (node: NodeFacts): CtrOptions => ({ ctr: node.ctrPath, address: node.containerdAddress });

type Seen = { running: true; present: Map<string, CtrImage> } | { running: false; sideLoaded: Set<string> };

async function readSeen(node: NodeFacts): Promise<Seen> {
  if (await isSocket(node.containerdAddress)) return { running: true, present: await ctrImages(ctrOptions(node)) };
  const sideLoaded = new Set<string>();
  for (const image of node.bundle.manifest.images) {
    const file = nodePath(node.root, sideLoadPath(image));
    if ((await pathExists(file)) || (await pathExists(`${file}.loaded`))) sideLoaded.add(image.ref);
  }
  return { running: false, sideLoaded };
}

/** Nodes whose preflight is reading now (keepingImagesRead), and what this step's read saw then. */
const keeping = new WeakSet<NodeFacts>();
const keptByPreflight = new WeakMap<NodeFacts, Seen>();

/**
 * Run preflight's reads of `node`, keeping what this step's read sees there (its disk check asks
 * which images are missing) for this step's own read in the same run: one `ctr images ls`, not
 * two. The step takes it only when no step before it changed, or would change, the node
 * (`changed` is empty); it is taken once, so any later read asks containerd again.
 */
export async function keepingImagesRead<T>(node: NodeFacts, read: () => Promise<T>): Promise<T> {
  keeping.add(node);
  keptByPreflight.delete(node);
  try {
    return await read();
  } finally {
    keeping.delete(node);
  }
}

export const images = defineStep({
  id: ID,
  describe: "images into containerd's k8s.io namespace (imported now, or side-loaded when containerd starts)",
  skip: ({ node, state }) => (node.bundle.manifest.images.length === 0 && ownedBy(state, ID).length === 0 ? 'the bundle has no images' : undefined),
  async read({ node, changed }): Promise<Seen> {
    if (keeping.has(node)) {
      const seen = await readSeen(node);
      keptByPreflight.set(node, seen);
      return seen;
    }
    const kept = keptByPreflight.get(node);
    keptByPreflight.delete(node);
    return kept && changed.size === 0 ? kept : readSeen(node);
  },
  check({ node, state }, seen) {
    const changes: ImageChange[] = [];
    const wanted = node.bundle.manifest.images;
    for (const image of wanted) {
      if (seen.running) {
        const have = seen.present.get(image.ref);
        if (have?.digest !== image.digest) changes.push({ kind: 'import', ref: image.ref, why: have ? `containerd has ${have.digest}` : 'not in containerd' });
        else if (have.labels[PINNED_LABEL] !== 'pinned')
          changes.push({ kind: 'pin', ref: image.ref, why: 'in containerd, not pinned: kubelet could remove it under disk pressure' });
      } else if (!seen.sideLoaded.has(image.ref)) {
        changes.push({ kind: 'side-load', ref: image.ref, why: `containerd is not running (${node.containerdAddress}); loaded when it starts` });
      }
    }
    const keep = new Set(wanted.map(sideLoadPath));
    for (const abs of ownedBy(state, ID)) if (!keep.has(abs)) changes.push({ kind: 'remove', abs, why: 'image no longer in the bundle' });
    return changes;
  },
  show: (c) => ({ action: c.kind, target: c.kind === 'remove' ? c.abs : c.ref }),
  async apply(ctx, changes) {
    const byRef = new Map(ctx.node.bundle.manifest.images.map((i) => [i.ref, i]));
    const toImport = changes.flatMap((c) => (c.kind === 'import' ? [byRef.get(c.ref)!] : []));
    const toPin = changes.flatMap((c) => (c.kind === 'import' || c.kind === 'pin' ? [c.ref] : []));
    let pinning: Promise<void> | undefined;
    const pin = () => {
      if (!pinning) {
        pinning = ctrLabelEach(ctrOptions(ctx.node), toPin, PINNED_LABEL, 'pinned');
        // Handled here too: a label that fails while ctr still unpacks must not be an unhandled rejection; it is thrown below.
        pinning.catch(() => undefined);
      }
      return pinning;
    };
    if (toImport.length > 0) {
      // Recorded first, like a claimed file: a run stopped after the import still knows they are its own.
      for (const image of toImport) await ctx.record.imageImported(image.ref, image.digest);
      // One stream holding only the missing images and the blobs they need. The labels go on
      // while ctr unpacks (the names exist by then), not one process after another at the end.
      const importing = ctrImport(ctrOptions(ctx.node), await ociTarStream(ctx.node.bundle, toImport, { arch: nodeArch() }), { onNamed: () => void pin() });
      await importing.catch(async (err: unknown) => {
        await pinning?.catch(() => undefined);
        throw err;
      });
      ctx.progress(`  imported ${toImport.map((i) => i.ref).join(', ')}`);
    }
    await pin();
    if (toPin.length > 0) ctx.progress(pinNote(ctx.node, toPin.length));
    for (const c of changes) {
      switch (c.kind) {
        case 'import':
        case 'pin':
          break; // all in the one stream and the labels above
        case 'side-load':
          await sideLoad(ctx, byRef.get(c.ref)!);
          break;
        case 'remove':
          await rm(nodePath(ctx.node.root, `${c.abs}.loaded`), { force: true });
          await removeOwned(ctx, c.abs);
          break;
        default:
          unreachable(c);
      }
    }
  },
});

/**
 * The CRI reports the label as pinned from containerd 1.7 (k8s 1.33+); the 1.32 snap ships
 * containerd 1.6, whose CRI ignores it (k8s-cli-contract.md, "containerd of the snap").
 */
function pinNote(node: NodeFacts, n: number): string {
  const release = bundleRelease(node.bundle.manifest);
  const pinned = `  pinned ${n} image(s) (${PINNED_LABEL}=pinned)`;
  if (!releaseBefore(release, 1, 33)) return pinned;
  return `${pinned}; note: k8s ${release ?? '?'} ships containerd 1.6, which does not honour pinning: kubelet's image GC may still remove them under disk pressure`;
}

async function sideLoad(ctx: StepContext, image: BundleImage): Promise<void> {
  const abs = sideLoadPath(image);
  const file = nodePath(ctx.node.root, abs);
  await ctx.record.claim(abs, { sha256: image.digest, step: ID });
  await ctx.record.imageImported(image.ref, image.digest);
  await mkdir(path.dirname(file), { recursive: true, mode: 0o755 });
  await removeStaleTemps(file);
  // The snap picks up *.tar only: the temp name must not end in .tar, and the rename is atomic.
  const tmp = tempPathFor(file);
  try {
    await pipeline(await ociTarStream(ctx.node.bundle, [image]), createWriteStream(tmp, { mode: 0o644 }));
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  ctx.progress(`  side-loaded ${image.ref} into ${abs}`);
}
