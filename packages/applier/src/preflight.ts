import { statfs } from 'node:fs/promises';
import { AirgapError } from '@airgap/core';
import { nodeArch } from './node/arch.ts';
import { clusterIntent } from './node/cluster-intent.ts';
import { nodePath } from './node/node-path.ts';
import { pathExists } from './node/path-exists.ts';
import { portsInUse, preInitPorts } from './node/local-ports.ts';
import { defaultRoutes } from './tools/ip.ts';
import { k8sMembership } from './tools/k8s.ts';
import { snapVersion } from './tools/snap.ts';
import type { NodeFacts, StepPlan } from './types.ts';

/** One reason the node cannot converge; `about` names what (shown as the target of a `refuse`). */
export interface Problem {
  kind: 'refuse';
  about: string;
  why: string;
}

/** What preflight reads from the node; `preInit` only for a node that is about to bootstrap or join. */
export interface PreflightSeen {
  uid: number | undefined;
  arch: string;
  freeBytes: number;
  snapd: { ok: true } | { ok: false; why: string };
  preInit: { intent: 'bootstrap' | 'join'; member: true } | { intent: 'bootstrap' | 'join'; error: string } | { intent: 'bootstrap' | 'join'; member: false; runDirTaken: boolean; busy: number[] } | undefined;
  defaultRoutes: number;
}

export const PREFLIGHT_DESCRIBE = 'root, architecture, free disk, snapd, before bootstrap or join no foreign containerd and free k8s ports, a default route';

export async function readPreflight(node: NodeFacts): Promise<PreflightSeen> {
  const fs = await statfs(node.root);
  const snapd = await snapVersion().then(
    () => ({ ok: true }) as const,
    (err: unknown) => ({ ok: false, why: (err as Error).message }) as const,
  );
  return { uid: process.getuid?.(), arch: nodeArch(), freeBytes: fs.bavail * fs.bsize, snapd, preInit: await readPreInit(node), defaultRoutes: (await defaultRoutes()).length };
}

/**
 * What the k8s pre-init check would refuse at the very end of the run (k8s-cli-contract.md,
 * "Pre-init checks"), read here before anything changes. Only a node that is not a member yet
 * bootstraps or joins; on a member the snap's own containerd made run/containerd and its own
 * services hold the ports.
 */
async function readPreInit(node: NodeFacts): Promise<PreflightSeen['preInit']> {
  const intent = clusterIntent(node);
  if (!intent) return undefined;
  const m = await k8sMembership(node.k8s).catch((err: unknown) => err as Error);
  if (m instanceof Error) return { intent, error: m.message };
  if (m.member) return { intent, member: true };
  const runDirTaken = await pathExists(nodePath(node.root, node.containerd.runDir));
  return { intent, member: false, runDirTaken, busy: await portsInUse(preInitPorts(node.bundle.manifest, intent).keys()) };
}

/** Decides from what was read: every reason the node cannot converge, in a fixed order. */
export function preflightProblems(node: NodeFacts, seen: PreflightSeen): Problem[] {
  const problems: Problem[] = [];
  const refuse = (about: string, why: string) => problems.push({ kind: 'refuse', about, why });
  const m = node.bundle.manifest;
  if (seen.uid !== 0) refuse('user', 'the applier must run as root (sudo applier apply ...)');
  if (!m.platforms.some((p) => p.split('/')[1] === seen.arch)) refuse('architecture', `this node is linux/${seen.arch}; the bundle is for ${m.platforms.join(', ')}`);
  const needed = m.entries.reduce((n, e) => n + e.size, 0);
  if (seen.freeBytes < needed) refuse('disk', `${node.root} has ${mib(seen.freeBytes)} free; the bundle's contents need ${mib(needed)}`);
  if (!seen.snapd.ok) refuse('snap', `snapd is not usable: ${seen.snapd.why}`);
  const pre = seen.preInit;
  if (pre && 'error' in pre) refuse('k8s', `cannot tell whether this node is a cluster member: ${pre.error}`);
  else if (pre && !pre.member) {
    const { runDir } = node.containerd;
    if (pre.runDirTaken) refuse(runDir, `another containerd (or Docker) owns ${runDir}; the k8s snap refuses to bootstrap or join then: remove it first`);
    if (pre.busy.length > 0) {
      const ports = preInitPorts(m, pre.intent);
      const list = [...pre.busy].sort((a, b) => a - b).map((p) => `${p} (${ports.get(p) ?? ''})`).join(', ');
      refuse('ports', `something on this node already listens on ${list}; the k8s snap refuses to ${pre.intent} then: stop it first (ss -ltnp shows what)`);
    }
  }
  if (seen.defaultRoutes === 0 && !m.spec.network?.defaultRoute) refuse('default route', 'the node has no default route and the bundle sets no network.defaultRoute; Kubernetes needs one');
  return problems;
}

/** The preflight stage as the first row of a plan: `fail` with every problem, or `ok`. */
export async function planPreflight(node: NodeFacts): Promise<StepPlan> {
  const problems = preflightProblems(node, await readPreflight(node));
  const changes = problems.map((p) => ({ action: p.kind, target: p.about, why: p.why, change: p }));
  const base = { id: 'preflight', describe: PREFLIGHT_DESCRIBE, changes };
  return problems.length > 0 ? { ...base, status: 'fail', why: problems.map((p) => p.why).join('; ') } : { ...base, status: 'ok', why: 'nothing to change' };
}

export function preflightError(row: StepPlan): AirgapError {
  return new AirgapError('PREFLIGHT_FAILED', `preflight: ${row.changes.map((c) => c.why).join('; ')}`, { hint: 'fix the above and run the applier again; nothing was changed' });
}

function mib(bytes: number): string {
  return `${Math.ceil(bytes / 1024 / 1024)} MiB`;
}
