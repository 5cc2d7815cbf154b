import { AirgapError, runTool } from '@airgap/core';

/** One file from a squashfs image, or undefined when the image does not have it. */
export async function catFromSquashfs(image: string, inner: string): Promise<string | undefined> {
  try {
    const r = await runTool('unsquashfs', ['-cat', image, inner], { timeout: 120_000 });
    return r.stdout;
  } catch (err) {
    const message = err instanceof AirgapError ? err.message : String(err);
    if (/failed to (find|lookup)|no such file|not found/i.test(message)) return undefined;
    if (err instanceof AirgapError && err.hint?.startsWith('install')) {
      throw new AirgapError('TOOL_FAILED', 'unsquashfs is needed to read snaps', { hint: 'install squashfs-tools (apt-get install squashfs-tools)', cause: err });
    }
    throw new AirgapError('SNAP_INVALID', `${image} is not a readable squashfs snap`, { hint: 'download the snap again', cause: err });
  }
}
