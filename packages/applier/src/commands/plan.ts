import { readNodeFacts } from './node-facts.ts';
import { planApply } from '../plan.ts';
import { loadState } from '../state/state-store.ts';
import type { Plan } from '../types.ts';
import { verifyFor, type CommonOptions } from './options.ts';

/** Verify, then check every step against the node; changes nothing. */
export async function planCommand(o: CommonOptions): Promise<Plan> {
  const bundle = await verifyFor(o);
  const node = await readNodeFacts(o, bundle);
  return planApply(node, (await loadState(o.root, { dryRun: true })).value);
}
