import { statfs } from 'node:fs/promises';
import { AirgapError } from '@airgap/core';
import { nodeArch } from '../node/arch.ts';
import { clusterIntent } from '../node/cluster-intent.ts';
import { nodePath } from '../node/node-path.ts';
import { pathExists } from '../node/path-exists.ts';
import { defaultRoutes } from '../tools/ip.ts';
import { k8sInCluster } from '../tools/k8s.ts';
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
    if (clusterIntent(node) && (await pathExists(nodePath(node.root, '/run/containerd'))) && !(await inCluster())) {
      problems.push(refuse('/run/containerd', 'another containerd (or Docker) owns /run/containerd; the k8s snap refuses to bootstrap or join then: remove it first'));
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

async function inCluster(): Promise<boolean> {
  return k8sInCluster().catch(() => false);
}

function mib(bytes: number): string {
  return `${Math.ceil(bytes / 1024 / 1024)} MiB`;
}
