import { execa } from 'execa';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '../..');

export interface CliResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** Run a built CLI (dist/NAME.mjs) the way a user does; never throws on a non-zero exit. */
export async function cli(
  name: 'bundler' | 'applier',
  args: string[],
  options: { cwd?: string; env?: Record<string, string>; input?: string; timeout?: number } = {},
): Promise<CliResult> {
  const r = await execa(process.execPath, [path.join(root, 'dist', `${name}.mjs`), ...args], {
    cwd: options.cwd,
    env: options.env,
    input: options.input,
    reject: false,
    timeout: options.timeout ?? 120_000,
  });
  return { exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
}
