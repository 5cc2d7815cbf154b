import path from 'node:path';
import { build } from 'esbuild';

/**
 * Bundle a TypeScript entry into one ESM file Node 20 runs (as scripts/run-ts.mjs does), so the
 * bench can time it as a process of its own. Run from the repository root.
 */
export async function bundleScript(entry: string, outfile: string): Promise<void> {
  await build({
    entryPoints: [path.resolve(entry)],
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    outfile,
    alias: { '@airgap/core': path.resolve('packages/core/src/index.ts') },
    banner: { js: "import { createRequire as __airgapRequire } from 'node:module'; const require = __airgapRequire(import.meta.url);" },
    logLevel: 'warning',
  });
}
