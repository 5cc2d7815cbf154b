import { readNodeFacts } from './node-facts.ts';
import { changeCount, planApply } from '../plan.ts';
import { runSteps } from '../run-steps.ts';
import { createRecorder } from '../state/recorder.ts';
import { loadState } from '../state/state-store.ts';
import type { Plan, StepPlan } from '../types.ts';
import { verifyFor, type CommonOptions } from './options.ts';

export interface ApplyReport {
  bundle: Plan['bundle'];
  root: string;
  dryRun: boolean;
  changed: number;
  steps: StepPlan[];
}

/** Verify the whole bundle, then converge the node step by step (or only plan, with --dry-run). */
export async function applyCommand(o: CommonOptions, print: (line: string) => void): Promise<ApplyReport> {
  const bundle = await verifyFor(o);
  const node = await readNodeFacts(o, bundle);
  const store = await loadState(o.root, { dryRun: o.dryRun });
  const head = { bundle: { name: bundle.manifest.name, digest: `sha256:${bundle.digest}`, signer: bundle.signer.fingerprint }, root: o.root, dryRun: o.dryRun };
  if (o.dryRun) {
    const plan = await planApply(node, store.value);
    return { ...head, changed: changeCount(plan.steps), steps: plan.steps };
  }
  print(`applying ${bundle.manifest.name} ${head.bundle.digest} (signed by ${bundle.signer.fingerprint}) to ${o.root}`);
  const result = await runSteps({ node, record: createRecorder(store), print });
  return { ...head, ...result };
}
