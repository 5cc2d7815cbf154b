import path from 'node:path';
import { readEntry, resolveInside } from '@airgap/core';
import { nodePath } from '../node/node-path.ts';
import { currentSha256, ownedBy, removeOwned, writeOwned } from '../state/owned-files.ts';
import type { Change, Node, Step } from '../types.ts';

/** Node path → bundle entry of every hosts.toml and CA file, each target kept inside the hosts dir. */
function wanted(node: Node): Map<string, { entry: string; sha256: string }> {
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

export const containerdHosts: Step = {
  id: 'containerd-hosts',
  describe: () => "registry mirrors: hosts.toml and CA files in the k8s snap's containerd hosts dir",
  skip(node) {
    return node.bundle.manifest.containerd.files.length === 0 && ownedBy(node, 'containerd-hosts').length === 0 ? 'the bundle has no registry mirrors' : undefined;
  },
  async check(node) {
    const want = wanted(node);
    const changes: Change[] = [];
    for (const [abs, w] of want) {
      const have = await currentSha256(node, abs);
      if (have !== w.sha256) changes.push({ action: 'write', target: abs, why: have ? 'differs from the bundle' : 'missing' });
    }
    // Only files a previous bundle wrote are ever removed; anything else in the folder is not ours.
    for (const abs of ownedBy(node, 'containerd-hosts')) if (!want.has(abs)) changes.push({ action: 'remove', target: abs, why: 'no longer in the bundle' });
    return changes;
  },
  async apply(node, changes) {
    const want = wanted(node);
    for (const c of changes) {
      const w = want.get(c.target);
      if (c.action === 'write' && w) await writeOwned(node, { abs: c.target, data: await readEntry(node.bundle, w.entry), mode: 0o644, step: 'containerd-hosts' });
      if (c.action === 'remove') await removeOwned(node, c.target);
    }
  },
};
