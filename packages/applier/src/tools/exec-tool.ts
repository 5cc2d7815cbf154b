import { runTool, type ToolResult } from '@airgap/core';

/** Timeouts per kind of call: queries are quick, installs and bootstraps are not. */
export const QUICK = 60_000;
export const SLOW = 20 * 60_000;

/** Run a tool and report a non-zero exit as data instead of an error (for queries like `snap list`). */
export async function probe(file: string, args: readonly string[], timeout = QUICK): Promise<ToolResult & { ok: boolean }> {
  try {
    return { ...(await runTool(file, args, { timeout })), ok: true };
  } catch (err) {
    const cause = (err as { cause?: { exitCode?: number; stdout?: string; stderr?: string; code?: string } }).cause;
    if (cause?.code === 'ENOENT' || cause?.exitCode === undefined) throw err;
    return { stdout: cause.stdout ?? '', stderr: cause.stderr ?? '', exitCode: cause.exitCode, ok: false };
  }
}
