import { execa, type ExecaError } from 'execa';
import { AirgapError } from '../errors.ts';

export interface RunToolOptions {
  /** Milliseconds before the tool is killed. */
  timeout?: number;
  input?: string | Buffer;
  env?: Record<string, string>;
  cwd?: string;
}

export interface ToolResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

/**
 * Run an external tool with arguments as an array (never a shell string). A failure becomes
 * TOOL_FAILED naming the command, with execa's short message and the execa error as cause.
 */
export async function runTool(file: string, args: readonly string[], options: RunToolOptions = {}): Promise<ToolResult> {
  try {
    const r = await execa(file, args, {
      timeout: options.timeout ?? 10 * 60_000,
      input: options.input,
      env: options.env,
      cwd: options.cwd,
      stripFinalNewline: true,
    });
    return { stdout: String(r.stdout), stderr: String(r.stderr), exitCode: r.exitCode ?? 0 };
  } catch (err) {
    const e = err as ExecaError;
    const detail = String(e.stderr ?? '').trim().split('\n').slice(-3).join(' / ');
    throw new AirgapError('TOOL_FAILED', `${[file, ...args].join(' ')} failed: ${e.shortMessage ?? e.message}${detail ? `: ${detail}` : ''}`, {
      hint: e.code === 'ENOENT' ? `install ${file} or put it on PATH` : undefined,
      cause: err,
    });
  }
}
