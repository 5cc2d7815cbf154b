import { hostname } from 'node:os';
import { bundleRelease } from '../node/k8s-release.ts';
import { cleanHostname } from '../node/node-name.ts';
import { nodeReadiness } from '../node/readiness.ts';
import { loadState, type AirgapState } from '../state/state-store.ts';
import { k8sMembership, type ClusterRole } from '../tools/k8s.ts';
import { readNodeFacts } from './node-facts.ts';
import { planApply } from '../plan.ts';
import type { Plan } from '../types.ts';
import { verifyFor, type CommonOptions } from './options.ts';

export interface StatusReport {
  state: AirgapState;
  /** The name this node has (or will have) in the cluster: what `k8s get-join-token NAME` needs. */
  nodeName: string;
  /** `k8s local-node-status` says the node has bootstrapped or joined a cluster. */
  member: boolean;
  role: ClusterRole | null;
  /** Ready as `readyCheck` decided it. */
  ready: boolean;
  /** How readiness was decided (it depends on the role and the release), or why it was not checked. */
  readyCheck: string;
  /** What the check saw. */
  readyDetail: string;
  /** The digest of the last bundle that converged fully, or null. */
  bundleDigest: string | null;
  /** With a bundle: what would still change to converge to it. */
  plan?: Plan;
  converged?: boolean;
}

export async function statusCommand(o: CommonOptions): Promise<StatusReport> {
  const state = (await loadState(o.root, { dryRun: true })).value;
  const bundle = o.bundle ? await verifyFor(o) : undefined;
  const head = {
    state,
    ...(await membership(o.k8s, bundle ? bundleRelease(bundle.manifest) : state.bundle?.k8sRelease)),
    bundleDigest: state.bundle?.digest ?? null,
  };
  if (!bundle) return head;
  const plan = await planApply(await readNodeFacts(o, bundle), state);
  return { ...head, plan, converged: plan.steps.every((s) => s.status === 'ok' || s.status === 'skip') };
}

type Membership = Pick<StatusReport, 'nodeName' | 'member' | 'role' | 'ready' | 'readyCheck' | 'readyDetail'>;

/**
 * Membership and readiness as fleet tools need them. A node without the k8s snap is not a member;
 * any other k8s failure is an error, not "not a member": a play must never join a node twice.
 * Readiness depends on the release: the bundle's, else the last applied one's.
 */
async function membership(k8s: string, release: string | undefined): Promise<Membership> {
  const nodeName = cleanHostname(hostname());
  const m = await k8sMembership(k8s);
  if (!m.member) return { nodeName, member: false, role: null, ready: false, readyCheck: `${k8s} local-node-status`, readyDetail: m.why };
  const r = await nodeReadiness(k8s, release, m);
  return { nodeName: m.name, member: true, role: m.role, ready: r.ready, readyCheck: r.check, readyDetail: r.detail };
}

export function formatStatus(r: StatusReport): string {
  const s = r.state;
  const lines = [
    `last applied  ${s.bundle ? `${s.bundle.name} ${s.bundle.digest}` : 'nothing yet'}`,
    `snaps         ${
      Object.entries(s.snaps)
        .map(([n, rev]) => `${n}=${rev}`)
        .join(' ') || '-'
    }`,
    `cluster       ${s.cluster ?? '-'} (node ${r.nodeName}: ${r.member ? `${r.role ?? ''} member, ${r.ready ? 'Ready' : `not Ready: ${r.readyDetail}`}` : 'not a member'})`,
    `ready check   ${r.readyCheck}`,
    `owned files   ${Object.keys(s.files).length}`,
    ...Object.entries(s.files).map(([abs, f]) => `  ${f.step.padEnd(16)} ${abs}`),
  ];
  if (s.restartPending) lines.push('restart       pending (proxy changed; the next apply restarts k8s)');
  if (r.plan)
    lines.push(
      r.converged
        ? `converged to ${r.plan.bundle.name} ${r.plan.bundle.digest}`
        : `NOT converged to ${r.plan.bundle.name}: run \`applier plan\` to see what would change`,
    );
  return lines.join('\n');
}
