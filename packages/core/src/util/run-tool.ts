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

/** A tool that failed, with what it said as fields: callers decide on these, never on the message. */
export class ToolError extends AirgapError {
  /** The program, e.g. `unsquashfs`. */
  readonly tool: string;
  /** Its exit code; undefined when it did not exit (not installed, killed by the timeout). */
  readonly exitCode: number | undefined;
  readonly stderr: string;
  /** The program is not on PATH (ENOENT). */
  readonly notInstalled: boolean;

  constructor(message: string, o: { tool: string; exitCode: number | undefined; stderr: string; notInstalled: boolean; hint?: string; cause: unknown }) {
    super('TOOL_FAILED', message, { ...(o.hint ? { hint: o.hint } : {}), cause: o.cause });
    this.name = 'ToolError';
    this.tool = o.tool;
    this.exitCode = o.exitCode;
    this.stderr = o.stderr;
    this.notInstalled = o.notInstalled;
  }
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
    const stderr = String(e.stderr ?? '');
    const detail = stderr.trim().split('\n').slice(-3).join(' / ');
    const notInstalled = e.code === 'ENOENT';
    throw new ToolError(`${[file, ...args].join(' ')} failed: ${e.shortMessage ?? e.message}${detail ? `: ${detail}` : ''}`, {
      tool: file,
      exitCode: typeof e.exitCode === 'number' ? e.exitCode : undefined,
      stderr,
      notInstalled,
      ...(notInstalled ? { hint: `install ${file} or put it on PATH` } : {}),
      cause: err,
    });
  }
}
