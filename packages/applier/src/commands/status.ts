import { loadState, type AirgapState } from '../state/state-store.ts';
import { planApply } from '../plan.ts';
import type { Plan } from '../types.ts';
import { nodeFor, verifyFor, type CommonOptions } from './options.ts';

export const STATUS_USAGE = 'applier status [bundle.tar] [--pub KEY.pub] [--root DIR] [--json]';

export interface StatusReport {
  state: AirgapState;
  /** With a bundle: what would still change to converge to it. */
  plan?: Plan;
  converged?: boolean;
}

export async function statusCommand(o: CommonOptions): Promise<StatusReport> {
  const state = (await loadState(o.root, { dryRun: true })).value;
  if (!o.bundle) return { state };
  const bundle = await verifyFor(o, STATUS_USAGE);
  const plan = await planApply(await nodeFor({ ...o, dryRun: true }, bundle, () => undefined));
  return { state, plan, converged: plan.steps.every((s) => s.status === 'ok' || s.status === 'skip') };
}

export function formatStatus(r: StatusReport): string {
  const s = r.state;
  const lines = [
    `last applied  ${s.bundle ? `${s.bundle.name} ${s.bundle.digest}` : 'nothing yet'}`,
    `snaps         ${Object.entries(s.snaps).map(([n, rev]) => `${n}=${rev}`).join(' ') || '-'}`,
    `cluster       ${s.cluster ?? '-'}`,
    `owned files   ${Object.keys(s.files).length}`,
    ...Object.entries(s.files).map(([abs, f]) => `  ${f.step.padEnd(16)} ${abs}`),
  ];
  if (s.restartPending) lines.push('restart       pending (proxy changed; the next apply restarts k8s)');
  if (r.plan) lines.push(r.converged ? `converged to ${r.plan.bundle.name} ${r.plan.bundle.digest}` : `NOT converged to ${r.plan.bundle.name}: run \`applier plan\` to see what would change`);
  return lines.join('\n');
}
