import { planApply } from '../plan.ts';
import type { Plan } from '../types.ts';
import { nodeFor, verifyFor, type CommonOptions } from './options.ts';

export const PLAN_USAGE = 'applier plan bundle.tar [--pub KEY.pub] [--root DIR] [--json] [--join-token T]';

/** Verify, then check every step against the node; changes nothing. */
export async function planCommand(o: CommonOptions): Promise<Plan> {
  const bundle = await verifyFor(o, PLAN_USAGE);
  return planApply(await nodeFor({ ...o, dryRun: true }, bundle, () => undefined));
}
