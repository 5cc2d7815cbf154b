import { randomBytes } from 'node:crypto';
import { open, readdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';

/** Temp name in the same folder, so the final rename is atomic on the same file system. */
export function tempPathFor(target: string): string {
  return path.join(path.dirname(target), `.${path.basename(target)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
}

export interface AtomicWriteOptions {
  mode?: number;
}

/** Write a whole file so that readers see either the old content or the new, never a half. */
export async function writeFileAtomic(target: string, data: string | Uint8Array, options: AtomicWriteOptions = {}): Promise<void> {
  const tmp = tempPathFor(target);
  const mode = options.mode ?? 0o644;
  try {
    const fh = await open(tmp, 'wx', mode);
    try {
      await fh.writeFile(data);
      await fh.chmod(mode); // umask must not weaken or widen what we asked for
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, target);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

/**
 * Temp files of `target` left by a process that was killed (SIGKILL, power loss): their pid is
 * in the name, so those whose process is gone are removed. Live writers are left alone.
 */
export async function removeStaleTemps(target: string): Promise<void> {
  await removeDeadTemps(path.dirname(target), `.${path.basename(target)}.tmp-`);
}

/** The same for every temp file in `dir` (a content cache, where the targets are not known up front). */
export async function removeStaleTempsIn(dir: string): Promise<void> {
  await removeDeadTemps(dir, undefined);
}

async function removeDeadTemps(dir: string, prefix: string | undefined): Promise<void> {
  const names = await readdir(dir).catch(() => [] as string[]);
  for (const name of names) {
    const m = /^\..*\.tmp-(\d+)-[0-9a-f]+$/.exec(name);
    if (!m || (prefix !== undefined && !name.startsWith(prefix))) continue;
    const pid = Number(m[1]);
    if (pid > 0 && pid !== process.pid && !isAlive(pid)) await rm(path.join(dir, name), { force: true });
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
