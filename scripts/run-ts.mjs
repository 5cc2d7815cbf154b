// Runs a TypeScript script on Node 20 (which cannot run .ts itself): bundle with esbuild, then import.
import { build } from 'esbuild';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const [entry, ...args] = process.argv.slice(2);
const outfile = path.resolve('dist', 'scripts', `${path.basename(entry, '.ts')}.mjs`);
await build({
  entryPoints: [entry],
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  outfile,
  // esbuild cannot be bundled into itself; scripts that build (bench/pull.ts) import it from node_modules.
  external: ['esbuild'],
  alias: { '@airgap/core': path.resolve('packages/core/src/index.ts') },
  banner: { js: "import { createRequire as __airgapRequire } from 'node:module'; const require = __airgapRequire(import.meta.url);" },
  logLevel: 'warning',
});
process.argv = [process.argv[0], outfile, ...args];
await import(pathToFileURL(outfile).href);
