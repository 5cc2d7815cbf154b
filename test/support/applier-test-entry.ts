// The applier with its test hook: dist/applier-test.mjs (scripts/build.mjs), for the tests that
// stop a run at a named point and SIGKILL it there. The product (dist/applier.mjs, the standalone
// executables) is built from packages/applier/src/cli.ts alone and sets no hook.
import { existsSync } from 'node:fs';
import { setCheckpointHook } from '../../packages/applier/src/checkpoint.ts';

// When AIRGAP_TEST_PAUSE_AT names the point, say so on stderr and hang until killed; with
// AIRGAP_TEST_RESUME_FILE, go on once that file exists (a test changes the node meanwhile, e.g.
// another writer fills the disk after preflight).
setCheckpointHook(async (point) => {
  if (process.env.AIRGAP_TEST_PAUSE_AT !== point) return;
  process.stderr.write(`AIRGAP_TEST_PAUSED ${point}\n`);
  const resume = process.env.AIRGAP_TEST_RESUME_FILE;
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      if (resume && existsSync(resume)) {
        clearInterval(timer);
        resolve();
      }
    }, 20);
  });
});

// Imported only now: the CLI runs as it loads, and the hook must be in place first.
await import('../../packages/applier/src/cli.ts');
