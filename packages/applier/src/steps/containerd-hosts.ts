import path from 'node:path';
import { readEntry, resolveInside } from '@airgap/core';
import { nodePath } from '../node/node-path.ts';
import { currentSha256, ownedBy, removeOwned, writeOwned } from '../state/owned-files.ts';
import type { NodeFacts } from '../types.ts';
import { defineStep, unreachable } from './define-step.ts';

const ID = 'containerd-hosts';

export type HostsChange =
  /** `entry`: the bundle entry whose bytes go to the node path `abs`. */
  | { kind: 'write'; abs: string; entry: string; why: string }
  /** Only files a previous bundle wrote are ever removed; anything else in the folder is not ours. */
  | { kind: 'remove'; abs: string; why: string };

/** Node path → bundle entry of every hosts.toml and CA file, each target kept inside the hosts dir. */
function wanted(node: NodeFacts): Map<string, { entry: string; sha256: string }> {
  const { files } = node.bundle.manifest.containerd;
  const { hostsDir } = node.containerd;
  const dirOnNode = nodePath(node.root, hostsDir);
  const out = new Map<string, { entry: string; sha256: string }>();
  for (const f of files) {
    resolveInside(dirOnNode, f.target); // refuses ../ and absolute targets
    const entry = node.bundle.manifest.entries.find((e) => e.path === f.path)!;
    out.set(path.posix.join(hostsDir, f.target), { entry: f.path, sha256: entry.sha256 });
  }
  return out;
}

export const containerdHosts = defineStep({
  id: ID,
  describe: "registry mirrors: hosts.toml and CA files in the k8s snap's containerd hosts dir",
  skip: ({ node, state }) =>
    node.bundle.manifest.containerd.files.length === 0 && ownedBy(state, ID).length === 0 ? 'the bundle has no registry mirrors' : undefined,
  async read({ node }) {
    const have = new Map<string, string | undefined>();
    for (const abs of wanted(node).keys()) have.set(abs, await currentSha256(node.root, abs));
    return have;
  },
  check({ node, state }, have) {
    const want = wanted(node);
    const changes: HostsChange[] = [];
    for (const [abs, w] of want) {
      const sha = have.get(abs);
      if (sha !== w.sha256) changes.push({ kind: 'write', abs, entry: w.entry, why: sha ? 'differs from the bundle' : 'missing' });
    }
    for (const abs of ownedBy(state, ID)) if (!want.has(abs)) changes.push({ kind: 'remove', abs, why: 'no longer in the bundle' });
    return changes;
  },
  show: (c) => ({ action: c.kind, target: c.abs }),
  async apply(ctx, changes) {
    for (const c of changes) {
      switch (c.kind) {
        case 'write':
          await writeOwned(ctx, { abs: c.abs, data: await readEntry(ctx.node.bundle, c.entry), mode: 0o644, step: ID });
          break;
        case 'remove':
          await removeOwned(ctx, c.abs);
          break;
        default:
          unreachable(c);
      }
    }
  },
});
