import { rm } from 'node:fs/promises';
import type { BundleSnap } from '@airgap/core';
import { extractEntry } from '../node/extract-entry.ts';
import type { NodeFacts } from '../types.ts';
import { snapAck, snapInstall, snapRevision } from '../tools/snap.ts';
import { defineStep, unreachable } from './define-step.ts';

export type SnapChange =
  | { kind: 'install'; name: string; revision: number; why: string }
  | { kind: 'refresh'; name: string; revision: number; installed: number; why: string }
  /** Installed by a run that stopped before it could save the state file (full disk, kill). */
  | { kind: 'record'; name: string; revision: number; why: string };

/** `snap ack` then `snap install`, in the bundle's order: snapd, the base, k8s (--classic), extras. */
export const snaps = defineStep({
  id: 'snaps',
  describe: 'snapd, base and k8s snaps at the bundle revisions (ack, then install)',
  skip: ({ node }) => (node.bundle.manifest.snaps.length === 0 ? 'the bundle has no snaps' : undefined),
  async read({ node }) {
    const installed = new Map<string, number | undefined>();
    for (const s of node.bundle.manifest.snaps) installed.set(s.name, await snapRevision(s.name));
    return installed;
  },
  check({ node, state }, installed) {
    const changes: SnapChange[] = [];
    for (const { name, revision } of node.bundle.manifest.snaps) {
      const have = installed.get(name);
      if (have === revision) {
        if (state.snaps[name] !== revision) changes.push({ kind: 'record', name, revision, why: 'installed, not yet in the state file' });
      } else if (have === undefined) changes.push({ kind: 'install', name, revision, why: 'not installed' });
      else changes.push({ kind: 'refresh', name, revision, installed: have, why: `revision ${have} installed` });
    }
    return changes;
  },
  show: (c) => ({ action: c.kind, target: `${c.name}=${c.revision}` }),
  async apply(ctx, changes) {
    const byName = new Map(ctx.node.bundle.manifest.snaps.map((s) => [s.name, s]));
    for (const c of changes) {
      switch (c.kind) {
        case 'install':
        case 'refresh': {
          const s = byName.get(c.name)!;
          await install(ctx.node, s);
          ctx.progress(`  installed ${s.name} revision ${s.revision}`);
          break;
        }
        case 'record':
          break;
        default:
          unreachable(c);
      }
      await ctx.record.snapInstalled(c.name, c.revision);
    }
  },
});

async function install(node: NodeFacts, s: BundleSnap): Promise<void> {
  const assertFile = await extractEntry(node, s.assertPath);
  const snapFile = await extractEntry(node, s.snapPath);
  await snapAck(assertFile);
  await snapInstall(snapFile, { classic: s.classic });
  await rm(snapFile, { force: true });
  await rm(assertFile, { force: true });
}
