import type { Step, StepChange, StepContext, StepPlan, StepView } from '../types.ts';

/** A step with its change type erased, as the plan and the run loop handle every step alike. */
export interface RunnableStep<Id extends string = string> {
  id: Id;
  describe: string;
  /** Skip, or read the node then decide: changes nothing. */
  plan(view: StepView): Promise<StepPlan>;
  /** Make the changes `plan` returned (status `change`). */
  apply(ctx: StepContext, plan: StepPlan): Promise<void>;
}

/** The step as run, with its typed definition kept for tests of the pure `check`. */
export type DefinedStep<Id extends string, C extends StepChange, Seen> = RunnableStep<Id> & { definition: Step<Id, C, Seen> };

export function defineStep<Id extends string, C extends StepChange, Seen>(step: Step<Id, C, Seen>): DefinedStep<Id, C, Seen> {
  return {
    definition: step,
    id: step.id,
    describe: step.describe,
    async plan(view) {
      const base = { id: step.id, describe: step.describe };
      const skip = step.skip?.(view);
      if (skip !== undefined) return { ...base, status: 'skip', why: skip, changes: [] };
      const changes = step.check(view, await step.read(view)).map((c) => ({ ...step.show(c), why: c.why, change: c }));
      if (changes.length === 0) return { ...base, status: 'ok', why: 'nothing to change', changes };
      return { ...base, status: 'change', why: `${changes.length} change${changes.length === 1 ? '' : 's'}`, changes };
    },
    apply(ctx, plan) {
      // Only this step's own check made these changes: they are its C.
      return step.apply(
        ctx,
        plan.changes.map((p) => p.change as C),
      );
    },
  };
}

/** The `default` of an exhaustive `switch`: a change kind without a case fails to compile. */
export function unreachable(change: never): never {
  throw new Error(`unhandled change ${JSON.stringify(change)}`);
}
