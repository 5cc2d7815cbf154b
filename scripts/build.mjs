// Bundles each CLI into one ESM file under dist/, so it runs on plain Node 20 and can later be
// wrapped into a single executable.
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { generateValidators } from './gen-validators.mjs';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
let commit = process.env.AIRGAP_COMMIT ?? 'unknown';
try {
  commit = execFileSync('git', ['rev-parse', '--short=12', 'HEAD'], { stdio: ['ignore', 'pipe', 'ignore'] })
    .toString()
    .trim();
} catch {
  // Not a git checkout (e.g. an exported tree): keep the fallback.
}

// The JSON-schema validators, as code (packages/core/src/generated/): nothing compiles a schema at run time.
await generateValidators();

// applier-test: the applier with the checkpoint hook the kill tests use (test/support/applier-test-entry.ts).
const ENTRIES = { bundler: 'packages/bundler/src/cli.ts', applier: 'packages/applier/src/cli.ts', 'applier-test': 'test/support/applier-test-entry.ts' };
for (const [name, entry] of Object.entries(ENTRIES)) {
  await build({
    entryPoints: [entry],
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    outfile: `dist/${name}.mjs`,
    banner: { js: "import { createRequire as __airgapRequire } from 'node:module'; const require = __airgapRequire(import.meta.url);" },
    define: { __AIRGAP_VERSION__: JSON.stringify(pkg.version), __AIRGAP_COMMIT__: JSON.stringify(commit) },
    logLevel: 'warning',
    // The CycloneDX library's XML writer and validator load these optional peers lazily, in a
    // try (dist.node/_optPlug.node/_wrapper.js); the bundler writes JSON only and ships neither.
    external: ['xmlbuilder2', 'libxmljs2'],
  });
}
