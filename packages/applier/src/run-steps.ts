import { AirgapError, asIoError, isAirgapError } from '@airgap/core';
import { checkStep } from './plan.ts';
import { formatStep } from './format-plan.ts';
import { bundleRelease } from './node/k8s-release.ts';
import { resetScratch } from './node/extract-entry.ts';
import { STATE_FILE } from './state/state-store.ts';
import { STEPS } from './steps/index.ts';
import { testPause } from './test-hooks.ts';
import type { Node, StepPlan } from './types.ts';

export interface RunResult {
  steps: StepPlan[];
  changed: number;
}

/**
 * Check then apply each step in order, re-checking against the node as the earlier steps left it.
 * A failure names the step; the node stays re-runnable because every step only acts on what its
 * check finds missing, and the state file is saved before each change.
 */
export async function runSteps(node: Node, print: (line: string) => void): Promise<RunResult> {
  const done: StepPlan[] = [];
  await resetScratch(node);
  try {
    for (const step of STEPS) {
      const planned = await guard(step.id, () => checkStep(step, node));
      print(formatStep(planned));
      done.push(planned);
      if (planned.status === 'ok' || planned.status === 'skip') continue;
      await testPause(`before:${step.id}`);
      await guard(step.id, () => step.apply(node, planned.changes));
      node.changedSteps.add(step.id);
      await testPause(`after:${step.id}`);
    }
  } finally {
    // Also when a step fails: a snap half-copied to the scratch folder of a full disk must not
    // stay there, taking the space the re-run needs.
    await resetScratch(node);
  }
  const k8sRelease = bundleRelease(node.bundle.manifest);
  node.state.value.bundle = { name: node.bundle.manifest.name, digest: `sha256:${node.bundle.digest}`, ...(k8sRelease ? { k8sRelease } : {}) };
  // Outside every step, so not worded by guard(): a full disk here is still a user error, not a crash.
  await node.state.save().catch((err: unknown) => {
    throw asIoError(err, 'write', STATE_FILE);
  });
  return { steps: done, changed: done.reduce((n, s) => n + (s.status === 'change' ? s.changes.length : 0), 0) };
}

async function guard<T>(id: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    // Bad bundle content keeps its code (exit 2); a failed preflight is already worded for the user.
    if (isAirgapError(err) && err.code !== 'TOOL_FAILED' && err.code !== 'IO_FAILED') throw err;
    throw new AirgapError('STEP_FAILED', `step ${id} failed: ${(err as Error).message}`, {
      hint: (isAirgapError(err) && err.hint) || 'fix the cause and run the applier again: steps that are done are skipped',
      cause: err,
    });
  }
}
