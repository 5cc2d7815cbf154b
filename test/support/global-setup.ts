import { execFileSync } from 'node:child_process';

/** The CLI tests run the bundled dist/*.mjs, exactly what users run. */
export default function setup(): void {
  execFileSync(process.execPath, ['scripts/build.mjs'], { stdio: 'inherit' });
}
