import { formatDiskUse } from './disk-plan.ts';
import { changeCount } from './plan.ts';
import type { Plan, StepPlan } from './types.ts';

export function formatStep(s: StepPlan): string {
  const head = `${s.status.padEnd(6)} ${s.id.padEnd(16)} ${s.status === 'change' ? s.describe : s.why}`;
  if (s.status !== 'change') return head;
  return [head, ...s.changes.map((c) => `         ${c.action} ${c.target} (${c.why})`)].join('\n');
}

export function formatPlan(plan: Plan): string {
  const changes = changeCount(plan.steps);
  const failed = plan.steps.filter((s) => s.status === 'fail').length;
  return [
    `bundle ${plan.bundle.name} ${plan.bundle.digest} (signed by ${plan.bundle.signer})`,
    ...plan.steps.flatMap((s) => [formatStep(s), ...formatDiskUse(s.disk ?? [])]),
    failed > 0 ? `${failed} step(s) would refuse to run` : changes === 0 ? 'nothing to change: the node matches the bundle' : `${changes} change(s) to make`,
  ].join('\n');
}
