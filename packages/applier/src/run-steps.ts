import { AirgapError, asIoError, isAirgapError } from '@airgap/core';
import { checkpoint } from './checkpoint.ts';
import { formatStep } from './format-plan.ts';
import { bundleRelease } from './node/k8s-release.ts';
import { resetScratch } from './node/extract-entry.ts';
import { changeCount } from './plan.ts';
import { planPreflight, preflightError } from './preflight.ts';
import type { Recorder } from './state/recorder.ts';
import { STATE_FILE } from './state/state-store.ts';
import { STEPS } from './steps/index.ts';
import type { NodeFacts, StepContext, StepPlan } from './types.ts';

export interface RunResult {
  steps: StepPlan[];
  changed: number;
}

/**
 * Preflight, then plan and apply each step in order, each planned against the node as the earlier
 * steps left it. A failure names the step; the node stays re-runnable because every step only
 * acts on what its check finds missing, and the recorder saves the state before each change.
 */
export async function runSteps(o: { node: NodeFacts; record: Recorder; print: (line: string) => void }): Promise<RunResult> {
  const { node, record, print } = o;
  const changed = new Set<string>();
  const ctx: StepContext = { node, state: record.state, changed, record, progress: print, checkpoint };
  const done: StepPlan[] = [];
  await resetScratch(node);
  try {
    const pre = await guard('preflight', () => planPreflight(node));
    print(formatStep(pre));
    done.push(pre);
    if (pre.status === 'fail') throw preflightError(pre);
    for (const step of STEPS) {
      const planned = await guard(step.id, () => step.plan(ctx));
      print(formatStep(planned));
      done.push(planned);
      if (planned.status !== 'change') continue;
      await checkpoint(`before:${step.id}`);
      await guard(step.id, () => step.apply(ctx, planned));
      changed.add(step.id);
      await checkpoint(`after:${step.id}`);
    }
  } finally {
    // Also when a step fails: a snap half-copied to the scratch folder of a full disk must not
    // stay there, taking the space the re-run needs.
    await resetScratch(node);
  }
  const k8sRelease = bundleRelease(node.bundle.manifest);
  // Outside every step, so not worded by guard(): a full disk here is still a user error, not a crash.
  const { name, sequence, createdAt } = node.bundle.manifest;
  await record
    .converged({
      name,
      digest: `sha256:${node.bundle.digest}`,
      ...(k8sRelease ? { k8sRelease } : {}),
      ...(sequence !== undefined ? { sequence } : {}),
      createdAt,
    })
    .catch((err: unknown) => {
      throw asIoError(err, 'write', STATE_FILE);
    });
  return { steps: done, changed: changeCount(done) };
}

async function guard<T>(id: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    // A failed step (exit 1) is what the node caused: a tool that failed, a file that could not be
    // written, a system error (ENOSPC, EACCES). Other AirgapErrors keep their code (bad bundle
    // content: exit 2); anything else (a TypeError) is a bug and goes through as one (exit 70).
    if (!isAirgapError(err, 'TOOL_FAILED') && !isAirgapError(err, 'IO_FAILED') && !isSystemError(err)) throw err;
    throw new AirgapError('STEP_FAILED', `step ${id} failed: ${err.message}`, {
      hint: (isAirgapError(err) && err.hint) || 'fix the cause and run the applier again: steps that are done are skipped',
      cause: err,
    });
  }
}

/** An error from the OS (fs, net): `code` like ENOSPC and a numeric `errno`, never a TypeError. */
function isSystemError(err: unknown): err is NodeJS.ErrnoException {
  const e = err as NodeJS.ErrnoException | null;
  return e instanceof Error && typeof e.code === 'string' && /^E[A-Z0-9]+$/.test(e.code) && typeof e.errno === 'number';
}
