import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: {
    alias: { '@airgap/core': fileURLToPath(new URL('./packages/core/src/index.ts', import.meta.url)) },
  },
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 60_000,
    // Real servers (registry, containerd) and CLI runs: two cores, so keep the pool small.
    maxWorkers: 2,
    globalSetup: ['test/support/global-setup.ts'],
  },
});
