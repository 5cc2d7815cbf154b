// `pnpm bundler ARGS` / `pnpm applier ARGS`: build if needed, then run the bundled CLI.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const [name, ...args] = process.argv.slice(2);
const out = new URL(`../dist/${name}.mjs`, import.meta.url).pathname;
if (!existsSync(out) || process.env.AIRGAP_REBUILD !== '0') {
  const b = spawnSync(process.execPath, [new URL('./build.mjs', import.meta.url).pathname], { stdio: 'inherit' });
  if (b.status !== 0) process.exit(b.status ?? 1);
}
const r = spawnSync(process.execPath, [out, ...args], { stdio: 'inherit', cwd: process.env.INIT_CWD ?? process.cwd() });
process.exit(r.status ?? 1);
