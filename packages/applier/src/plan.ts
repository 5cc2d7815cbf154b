import { planPreflight } from './preflight.ts';
import { STEPS } from './steps/index.ts';
import type { NodeFacts, Plan } from './types.ts';
import type { AirgapState } from './state/state-store.ts';

/**
 * Preflight, then every step checked against the node as it is now: each reads the node, then
 * decides. Nothing here can write (no recorder): this is what `plan --json` prints.
 */
export async function planApply(node: NodeFacts, state: Readonly<AirgapState>): Promise<Plan> {
  const steps = [await planPreflight(node)];
  const changed = new Set<string>();
  for (const step of STEPS) {
    const planned = await step.plan({ node, state, changed });
    // A later step decides as if this one had made its changes (restart after proxy).
    if (planned.status === 'change') changed.add(step.id);
    steps.push(planned);
  }
  const { bundle } = node;
  return { bundle: { name: bundle.manifest.name, digest: `sha256:${bundle.digest}`, signer: bundle.signer.fingerprint }, root: node.root, steps };
}

/** Changes a plan would make (or a run made), counted over the steps that change something. */
export function changeCount(steps: readonly { status: string; changes: readonly unknown[] }[]): number {
  return steps.reduce((n, s) => n + (s.status === 'change' ? s.changes.length : 0), 0);
}
