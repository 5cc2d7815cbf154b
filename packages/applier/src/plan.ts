import { STEPS } from './steps/index.ts';
import type { Node, Plan, Step, StepPlan } from './types.ts';

/** Check one step against the node: what it would change, and why (or why it is skipped). */
export async function checkStep(step: Step, node: Node): Promise<StepPlan> {
  const base = { id: step.id, describe: step.describe() };
  const skip = step.skip?.(node);
  if (skip !== undefined) return { ...base, status: 'skip', why: skip, changes: [] };
  const changes = await step.check(node);
  if (changes.some((c) => c.action === 'refuse')) return { ...base, status: 'fail', why: changes.map((c) => c.why).join('; '), changes };
  if (changes.length === 0) return { ...base, status: 'ok', why: 'nothing to change', changes };
  return { ...base, status: 'change', why: `${changes.length} change${changes.length === 1 ? '' : 's'}`, changes };
}

/** Every step checked against the node as it is now, changing nothing: what `plan --json` prints. */
export async function planApply(node: Node): Promise<Plan> {
  const steps: StepPlan[] = [];
  for (const step of STEPS) {
    const planned = await checkStep(step, node);
    if (planned.status === 'change') node.changedSteps.add(step.id);
    steps.push(planned);
  }
  const { bundle } = node;
  return { bundle: { name: bundle.manifest.name, digest: `sha256:${bundle.digest}`, signer: bundle.signer.fingerprint }, root: node.root, steps };
}
