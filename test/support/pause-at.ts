import type { ChildProcess } from 'node:child_process';

/** What the test applier (test/support/applier-test-entry.ts) prints on stderr once it waits at AIRGAP_TEST_PAUSE_AT. */
export const pausedLine = (point: string) => `AIRGAP_TEST_PAUSED ${point}\n`;

/**
 * Resolves once a run of the test applier (dist/applier-test.mjs) with AIRGAP_TEST_PAUSE_AT=point
 * says it waits there; rejects with what it printed if it exits first. The test then kills it, or
 * changes the node and lets it go on (AIRGAP_TEST_RESUME_FILE).
 */
export function pausedAt(child: Pick<ChildProcess, 'stderr' | 'on'>, point: string): Promise<void> {
  let stderr = '';
  return new Promise<void>((resolve, reject) => {
    child.stderr?.on('data', (c: Buffer) => {
      stderr += c.toString();
      if (stderr.includes(pausedLine(point))) resolve();
    });
    child.on('exit', () => reject(new Error(`the applier exited before pausing at ${point}: ${stderr}`)));
  });
}
