import { AirgapError, runTool, ToolError } from '@airgap/core';

/**
 * unsquashfs -cat (squashfs-tools 4.5+) exits 2, its code for non-fatal errors, when the path is not
 * in the image ("cat: no matches for /x"); a damaged image is a fatal error, exit 1. The stderr
 * test covers builds that word it otherwise.
 */
const isMissingPath = (err: ToolError) => err.exitCode === 2 || /no matches for|failed to (find|lookup)|no such file|not found/i.test(err.stderr);

/** One file from a squashfs image, or undefined when the image does not have it. */
export async function catFromSquashfs(image: string, inner: string): Promise<string | undefined> {
  try {
    const r = await runTool('unsquashfs', ['-cat', image, inner], { timeout: 120_000 });
    return r.stdout;
  } catch (err) {
    if (!(err instanceof ToolError)) throw err;
    if (err.notInstalled)
      throw new AirgapError('TOOL_FAILED', 'unsquashfs is needed to read snaps', {
        hint: 'install squashfs-tools (apt-get install squashfs-tools)',
        cause: err,
      });
    if (isMissingPath(err)) return undefined;
    throw new AirgapError('SNAP_INVALID', `${image} is not a readable squashfs snap`, { hint: 'download the snap again', cause: err });
  }
}
