/**
 * Named points of a run: `before:<step>`, `after:<step>`, `claimed:<node path>` (state saved,
 * file not yet written), `cluster:done` (bootstrap or join returned, the state not yet saved),
 * `push:uploaded` (a push has just sent a blob). The product passes them by: nothing in it sets a
 * hook. A test build (test/support/applier-test-entry.ts) sets one to stop a run at a point.
 */
export type CheckpointHook = (point: string) => Promise<void>;

let hook: CheckpointHook | undefined;

export function setCheckpointHook(h: CheckpointHook | undefined): void {
  hook = h;
}

export async function checkpoint(point: string): Promise<void> {
  if (hook) await hook(point);
}
