import { readNodeFacts } from './node-facts.ts';
import { changeCount, planApply } from '../plan.ts';
import { runSteps } from '../run-steps.ts';
import { isAirgapError } from '@airgap/core';
import { appendHistory, type HistoryEntry } from '../state/history.ts';
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
  const m = bundle.manifest;
  const entry = (o2: Pick<HistoryEntry, 'result' | 'changes' | 'error'>): HistoryEntry => ({
    time: new Date().toISOString(),
    bundle: {
      name: m.name,
      digest: head.bundle.digest,
      ...(m.sequence !== undefined ? { sequence: m.sequence } : {}),
      createdAt: m.createdAt,
      signer: bundle.signer.fingerprint,
    },
    ...o2,
  });
  let result: Awaited<ReturnType<typeof runSteps>>;
  try {
    result = await runSteps({ node, record: createRecorder(store), print });
  } catch (err) {
    // A run refused in preflight changed nothing and is not history; one that failed in a step is.
    if (!REFUSED.some((code) => isAirgapError(err, code))) {
      const e = isAirgapError(err) ? { code: err.code, message: err.message } : { code: 'BUG', message: (err as Error).message };
      await appendHistory(o.root, entry({ result: 'failed', changes: [], error: e })).catch(() => undefined);
    }
    throw err;
  }
  const changes = result.steps
    .filter((s) => s.status === 'change' && s.id !== 'preflight')
    .flatMap((s) => s.changes.map((c) => ({ step: s.id, action: c.action, target: c.target })));
  // The node converged: a history line that cannot be written (a full disk) must not say otherwise.
  await appendHistory(o.root, entry({ result: 'ok', changes })).catch((err: unknown) =>
    print(`warning: cannot append to the apply history: ${(err as Error).message}`),
  );
  return { ...head, ...result };
}

const REFUSED = ['PREFLIGHT_FAILED', 'BUNDLE_DOWNGRADE', 'BUNDLE_EXPIRED', 'DISK_SPACE', 'DELTA_BASE_MISSING'] as const;
