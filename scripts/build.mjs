// Bundles each CLI into one ESM file under dist/, so it runs on plain Node 20 and can later be
// wrapped into a single executable.
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { chmod, mkdir, rename, writeFile } from 'node:fs/promises';
import { builtinModules } from 'node:module';
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

/**
 * An ES module's imports are all loaded before any of its code runs, and esbuild hoists every
 * `import … from 'node:…'` of the bundle into the one file: `--version` loaded ~20 built-ins
 * (crypto, http, worker_threads, …) that only commands use. This makes each such import a
 * `require()` (the banner's), which esbuild places in the lazily initialised module that
 * imports it, so a built-in loads when the first command needing it does. Same module objects:
 * an ES import of a built-in is a view of what `require` returns.
 */
const BUILTINS = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));
const lazyBuiltins = {
  name: 'lazy-builtins',
  setup(b) {
    b.onResolve({ filter: /^(node:)?[a-z0-9_/]+$/ }, (args) => {
      if (args.kind !== 'import-statement' || !BUILTINS.has(args.path)) return undefined;
      return { path: args.path.startsWith('node:') ? args.path : `node:${args.path}`, namespace: 'lazy-builtin' };
    });
    b.onLoad({ filter: /.*/, namespace: 'lazy-builtin' }, (args) => ({ contents: `module.exports = require(${JSON.stringify(args.path)});`, loader: 'js' }));
  },
};

// applier-test: the applier with the checkpoint hook the kill tests use (test/support/applier-test-entry.ts).
const ENTRIES = { bundler: 'packages/bundler/src/cli.ts', applier: 'packages/applier/src/cli.ts', 'applier-test': 'test/support/applier-test-entry.ts' };
await mkdir('dist', { recursive: true });
for (const [name, entry] of Object.entries(ENTRIES)) {
  const result = await build({
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
    plugins: [lazyBuiltins],
    write: false,
  });
  // Temp name + rename: a test running dist/*.mjs while another build writes it never reads half a file.
  const outfile = `dist/${name}.mjs`;
  const tmp = `dist/.${name}.mjs.tmp-${process.pid}`;
  const code = result.outputFiles[0].contents;
  await writeFile(tmp, code);
  if (code[0] === 0x23 && code[1] === 0x21) await chmod(tmp, 0o755); // #!: as esbuild itself does
  await rename(tmp, outfile);
}
