import { rm } from 'node:fs/promises';
import { nodePath } from '../node/node-path.ts';
import { isSocket, pathExists } from '../node/path-exists.ts';
import { ownedBy, removeOwned } from '../state/owned-files.ts';
import { ctrContainerImages, ctrImages, ctrLabel, ctrRemoveImage, PINNED_LABEL, type CtrImage, type CtrOptions } from '../tools/ctr.ts';
import type { NodeFacts } from '../types.ts';
import { defineStep, unreachable } from './define-step.ts';
import { sideLoadPath } from './images.ts';

const ID = 'prune';

export type PruneChange =
  /** An image an earlier bundle imported, this bundle lacks, and no container uses. */
  | { kind: 'remove'; ref: string; digest: string; why: string }
  /** Such an image a container still uses: it stays, but kubelet's image GC may take it once unused. */
  | { kind: 'unpin'; ref: string; why: string }
  /** The applier's record of an image that is gone, or that someone else has since re-tagged. */
  | { kind: 'forget'; ref: string; why: string }
  /** A side-load copy (`*.tar.loaded`) whose image is in containerd now. */
  | { kind: 'remove-copy'; abs: string; why: string };

type Seen =
  | { running: false }
  /** Nothing to ask containerd: every image the applier imported is in this bundle, and no side-load copy was loaded. */
  | { running: true; idle: true }
  | { running: true; idle: false; present: Map<string, CtrImage>; used: string[]; loaded: Set<string> };

const ctrOptions = (node: NodeFacts): CtrOptions => ({ ctr: node.ctrPath, address: node.containerdAddress });

/**
 * Disk use must not only grow: images the applier imported for an earlier bundle go when this one
 * lacks them and containerd says no container uses them. Nothing the applier did not import is
 * touched (state.images is the list), and only while containerd runs (it is asked, never guessed).
 */
export const prune = defineStep({
  id: ID,
  describe: 'images an earlier bundle imported and this one lacks (unless a container uses them), and side-load copies already in containerd',
  skip: ({ node, state }) => {
    if (node.noPrune) return '--no-prune';
    return Object.keys(state.images ?? {}).length === 0 && ownedBy(state, 'images').length === 0 ? 'the applier imported no image yet' : undefined;
  },
  async read({ node, state }): Promise<Seen> {
    if (!(await isSocket(node.containerdAddress))) return { running: false };
    const o = ctrOptions(node);
    const loaded = new Set<string>();
    for (const abs of ownedBy(state, 'images')) if (await pathExists(nodePath(node.root, `${abs}.loaded`))) loaded.add(abs);
    // check() could find nothing: spare the two ctr calls (each a process; the run right after an import is the usual case).
    const wanted = new Set(node.bundle.manifest.images.map((i) => i.ref));
    if (loaded.size === 0 && Object.keys(state.images ?? {}).every((ref) => wanted.has(ref))) return { running: true, idle: true };
    const [present, used] = await Promise.all([ctrImages(o), ctrContainerImages(o)]);
    return { running: true, idle: false, present, used, loaded };
  },
  check({ node, state }, seen): PruneChange[] {
    if (!seen.running || seen.idle) return [];
    const changes: PruneChange[] = [];
    const wanted = new Set(node.bundle.manifest.images.map((i) => i.ref));
    const inUse = usedDigests(seen.used, seen.present);
    for (const [ref, digest] of Object.entries(state.images ?? {}).sort(([a], [b]) => a.localeCompare(b))) {
      if (wanted.has(ref)) continue;
      const have = seen.present.get(ref);
      if (!have) changes.push({ kind: 'forget', ref, why: 'no longer in containerd' });
      else if (have.digest !== digest)
        changes.push({ kind: 'forget', ref, why: `containerd has ${have.digest} under the name now, not what the applier imported` });
      else if (inUse.has(digest) || seen.used.includes(ref)) {
        if (have.labels[PINNED_LABEL]) changes.push({ kind: 'unpin', ref, why: 'not in this bundle, but a container uses it: kept' });
      } else changes.push({ kind: 'remove', ref, digest, why: 'not in this bundle, and no container uses it' });
    }
    // Copies of images this bundle lacks are the images step's to remove.
    for (const image of node.bundle.manifest.images) {
      const abs = sideLoadPath(image);
      if (seen.loaded.has(abs) && seen.present.get(image.ref)?.digest === image.digest)
        changes.push({ kind: 'remove-copy', abs: `${abs}.loaded`, why: 'containerd has loaded it' });
    }
    return changes;
  },
  show: (c) => ({ action: c.kind, target: c.kind === 'remove-copy' ? c.abs : c.ref }),
  async apply(ctx, changes) {
    const o = ctrOptions(ctx.node);
    for (const c of changes) {
      switch (c.kind) {
        case 'remove':
          await ctrRemoveImage(o, c.ref);
          await ctx.record.imageForgotten(c.ref);
          ctx.progress(`  removed ${c.ref} (${c.digest})`);
          break;
        case 'unpin':
          await ctrLabel(o, c.ref, PINNED_LABEL, '');
          break;
        case 'forget':
          await ctx.record.imageForgotten(c.ref);
          break;
        case 'remove-copy':
          await rm(nodePath(ctx.node.root, c.abs), { force: true });
          await removeOwned(ctx, c.abs.slice(0, -'.loaded'.length));
          break;
        default:
          unreachable(c);
      }
    }
  },
});

/** Digests the containers' images stand for: a name containerd knows, or a `…@sha256:` / `sha256:` reference. */
function usedDigests(used: readonly string[], present: ReadonlyMap<string, CtrImage>): Set<string> {
  const digests = new Set<string>();
  for (const image of used) {
    const named = present.get(image)?.digest;
    if (named) digests.add(named);
    const pinnedRef = /(?:^|@)(sha256:[a-f0-9]{64})$/.exec(image)?.[1];
    if (pinnedRef) digests.add(pinnedRef);
  }
  return digests;
}
