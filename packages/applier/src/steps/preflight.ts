import { statfs } from 'node:fs/promises';
import { AirgapError } from '@airgap/core';
import { nodeArch } from '../node/arch.ts';
import { clusterIntent } from '../node/cluster-intent.ts';
import { nodePath } from '../node/node-path.ts';
import { pathExists } from '../node/path-exists.ts';
import { defaultRoutes } from '../tools/ip.ts';
import { k8sMembership } from '../tools/k8s.ts';
import { snapVersion } from '../tools/snap.ts';
import type { Change, Step } from '../types.ts';

const refuse = (target: string, why: string): Change => ({ action: 'refuse', target, why });

/** Checks only: refuses to start when the node cannot converge, before anything is changed. */
export const preflight: Step = {
  id: 'preflight',
  describe: () => 'root, architecture, free disk, snapd, no foreign containerd, a default route',
  async check(node) {
    const problems: Change[] = [];
    const m = node.bundle.manifest;
    if (process.getuid?.() !== 0) problems.push(refuse('user', 'the applier must run as root (sudo applier apply ...)'));
    const arch = nodeArch();
    if (!m.platforms.some((p) => p.split('/')[1] === arch)) problems.push(refuse('architecture', `this node is linux/${arch}; the bundle is for ${m.platforms.join(', ')}`));
    const needed = m.entries.reduce((n, e) => n + e.size, 0);
    const fs = await statfs(node.root);
    const free = fs.bavail * fs.bsize;
    if (free < needed) problems.push(refuse('disk', `${node.root} has ${mib(free)} free; the bundle's contents need ${mib(needed)}`));
    try {
      await snapVersion();
    } catch (err) {
      problems.push(refuse('snap', `snapd is not usable: ${(err as Error).message}`));
    }
    // The k8s pre-init check (k8s-cli-contract.md, "Pre-init checks"): only a node that is not a
    // member yet will bootstrap or join; on a member the snap's own containerd made that folder.
    const { runDir } = node.containerd;
    if (clusterIntent(node) && (await pathExists(nodePath(node.root, runDir)))) {
      const m = await k8sMembership(node.k8s).catch((err: unknown) => err as Error);
      if (m instanceof Error) problems.push(refuse('k8s', `cannot tell whether this node is a cluster member: ${m.message}`));
      else if (!m.member) problems.push(refuse(runDir, `another containerd (or Docker) owns ${runDir}; the k8s snap refuses to bootstrap or join then: remove it first`));
    }
    if ((await defaultRoutes()).length === 0 && !m.spec.network?.defaultRoute) {
      problems.push(refuse('default route', 'the node has no default route and the bundle sets no network.defaultRoute; Kubernetes needs one'));
    }
    return problems;
  },
  apply(_node, changes) {
    return Promise.reject(new AirgapError('PREFLIGHT_FAILED', `preflight: ${changes.map((c) => c.why).join('; ')}`, { hint: 'fix the above and run the applier again; nothing was changed' }));
  },
};

function mib(bytes: number): string {
  return `${Math.ceil(bytes / 1024 / 1024)} MiB`;
}
