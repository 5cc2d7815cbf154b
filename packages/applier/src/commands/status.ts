import { hostname } from 'node:os';
import { loadState, type AirgapState } from '../state/state-store.ts';
import { k8sInCluster, k8sNodeReady } from '../tools/k8s.ts';
import { planApply } from '../plan.ts';
import type { Plan } from '../types.ts';
import { nodeFor, verifyFor, type CommonOptions } from './options.ts';

export const STATUS_USAGE = 'applier status [bundle.tar] [--pub KEY.pub] [--root DIR] [--json]';

export interface StatusReport {
  state: AirgapState;
  /** The name this node has (or will have) in the cluster: what `k8s get-join-token NAME` needs. */
  nodeName: string;
  /** `k8s status` succeeds: the node has bootstrapped or joined a cluster. */
  member: boolean;
  /** The node's Ready condition is True. */
  ready: boolean;
  /** The digest of the last bundle that converged fully, or null. */
  bundleDigest: string | null;
  /** With a bundle: what would still change to converge to it. */
  plan?: Plan;
  converged?: boolean;
}

export async function statusCommand(o: CommonOptions): Promise<StatusReport> {
  const state = (await loadState(o.root, { dryRun: true })).value;
  const head = { state, ...(await membership()), bundleDigest: state.bundle?.digest ?? null };
  if (!o.bundle) return head;
  const bundle = await verifyFor(o, STATUS_USAGE);
  const plan = await planApply(await nodeFor({ ...o, dryRun: true }, bundle, () => undefined));
  return { ...head, plan, converged: plan.steps.every((s) => s.status === 'ok' || s.status === 'skip') };
}

/** Cluster membership as fleet tools need it; a node without the k8s snap is simply not a member. */
async function membership(): Promise<{ nodeName: string; member: boolean; ready: boolean }> {
  const nodeName = hostname();
  const member = await k8sInCluster().catch(() => false);
  return { nodeName, member, ready: member && (await k8sNodeReady(nodeName).catch(() => undefined)) === 'True' };
}

export function formatStatus(r: StatusReport): string {
  const s = r.state;
  const lines = [
    `last applied  ${s.bundle ? `${s.bundle.name} ${s.bundle.digest}` : 'nothing yet'}`,
    `snaps         ${Object.entries(s.snaps).map(([n, rev]) => `${n}=${rev}`).join(' ') || '-'}`,
    `cluster       ${s.cluster ?? '-'} (node ${r.nodeName}: ${r.member ? `member, ${r.ready ? 'Ready' : 'not Ready'}` : 'not a member'})`,
    `owned files   ${Object.keys(s.files).length}`,
    ...Object.entries(s.files).map(([abs, f]) => `  ${f.step.padEnd(16)} ${abs}`),
  ];
  if (s.restartPending) lines.push('restart       pending (proxy changed; the next apply restarts k8s)');
  if (r.plan) lines.push(r.converged ? `converged to ${r.plan.bundle.name} ${r.plan.bundle.digest}` : `NOT converged to ${r.plan.bundle.name}: run \`applier plan\` to see what would change`);
  return lines.join('\n');
}
