/**
 * For the kill-and-re-run tests only: when AIRGAP_TEST_PAUSE_AT names this point, say so on
 * stderr and hang, so a test can SIGKILL the applier at an exact point of an apply.
 * Points: `before:<step>`, `after:<step>`, `claimed:<node path>` (state saved, file not yet written),
 * `cluster:done` (bootstrap or join returned, the state not yet saved),
 * `push:uploaded` (a push has just sent a blob; other uploads of the image may still be in flight).
 */
export async function testPause(point: string): Promise<void> {
  if (process.env.AIRGAP_TEST_PAUSE_AT !== point) return;
  process.stderr.write(`AIRGAP_TEST_PAUSED ${point}\n`);
  await new Promise<never>(() => {
    setInterval(() => undefined, 60_000);
  });
}
