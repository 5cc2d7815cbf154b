import { statfs } from 'node:fs/promises';
import { AirgapError } from '@airgap/core';
import { nodeArch } from '../node/arch.ts';
import { clusterIntent } from '../node/cluster-intent.ts';
import { nodePath } from '../node/node-path.ts';
import { pathExists } from '../node/path-exists.ts';
import { portsInUse, preInitPorts } from '../node/local-ports.ts';
import { defaultRoutes } from '../tools/ip.ts';
import { k8sMembership } from '../tools/k8s.ts';
import { snapVersion } from '../tools/snap.ts';
import type { Change, Node, Step } from '../types.ts';

const refuse = (target: string, why: string): Change => ({ action: 'refuse', target, why });

/** Checks only: refuses to start when the node cannot converge, before anything is changed. */
export const preflight: Step = {
  id: 'preflight',
  describe: () => 'root, architecture, free disk, snapd, before bootstrap or join no foreign containerd and free k8s ports, a default route',
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
    problems.push(...(await preInit(node)));
    if ((await defaultRoutes()).length === 0 && !m.spec.network?.defaultRoute) {
      problems.push(refuse('default route', 'the node has no default route and the bundle sets no network.defaultRoute; Kubernetes needs one'));
    }
    return problems;
  },
  apply(_node, changes) {
    return Promise.reject(new AirgapError('PREFLIGHT_FAILED', `preflight: ${changes.map((c) => c.why).join('; ')}`, { hint: 'fix the above and run the applier again; nothing was changed' }));
  },
};

/**
 * What the k8s pre-init check would refuse at the very end of the run (k8s-cli-contract.md,
 * "Pre-init checks"), refused here before anything changes. Only a node that is not a member yet
 * bootstraps or joins; on a member the snap's own containerd made run/containerd and its own
 * services hold the ports.
 */
async function preInit(node: Node): Promise<Change[]> {
  const intent = clusterIntent(node);
  if (!intent) return [];
  const m = await k8sMembership(node.k8s).catch((err: unknown) => err as Error);
  if (m instanceof Error) return [refuse('k8s', `cannot tell whether this node is a cluster member: ${m.message}`)];
  if (m.member) return [];
  const problems: Change[] = [];
  const { runDir } = node.containerd;
  if (await pathExists(nodePath(node.root, runDir))) {
    problems.push(refuse(runDir, `another containerd (or Docker) owns ${runDir}; the k8s snap refuses to bootstrap or join then: remove it first`));
  }
  const ports = preInitPorts(node.bundle.manifest, intent);
  const busy = await portsInUse(ports.keys());
  if (busy.length > 0) {
    const list = busy.sort((a, b) => a - b).map((p) => `${p} (${ports.get(p) ?? ''})`).join(', ');
    problems.push(refuse('ports', `something on this node already listens on ${list}; the k8s snap refuses to ${intent} then: stop it first (ss -ltnp shows what)`));
  }
  return problems;
}

function mib(bytes: number): string {
  return `${Math.ceil(bytes / 1024 / 1024)} MiB`;
}
