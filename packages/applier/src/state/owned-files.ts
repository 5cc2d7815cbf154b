import { createHash } from 'node:crypto';
import { mkdir, readFile, readlink, rm, rmdir, symlink, rename } from 'node:fs/promises';
import path from 'node:path';
import { removeStaleTemps, tempPathFor, writeFileAtomic } from '@airgap/core';
import { nodePath } from '../node/node-path.ts';
import type { StepContext } from '../types.ts';
import type { AirgapState } from './state-store.ts';

type Owner = Pick<StepContext, 'node' | 'record' | 'checkpoint'>;

export function sha256Of(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** sha256 of a node file, or undefined when it is missing. */
export async function currentSha256(root: string, abs: string): Promise<string | undefined> {
  const data = await readFile(nodePath(root, abs)).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT' || err.code === 'ENOTDIR') return undefined;
    throw err;
  });
  return data === undefined ? undefined : sha256Of(data);
}

export async function currentLink(root: string, abs: string): Promise<string | undefined> {
  return readlink(nodePath(root, abs)).catch(() => undefined);
}

/**
 * Claim the path in the state file first, then write it atomically: a crash in between leaves a
 * path the applier knows it owns, never a file it wrote and forgot.
 */
export async function writeOwned(ctx: Owner, o: { abs: string; data: string | Uint8Array; mode: number; step: string }): Promise<void> {
  const target = nodePath(ctx.node.root, o.abs);
  await ctx.record.claim(o.abs, { sha256: sha256Of(o.data), step: o.step });
  await ctx.checkpoint(`claimed:${o.abs}`);
  await mkdir(path.dirname(target), { recursive: true, mode: 0o755 });
  await removeStaleTemps(target);
  await writeFileAtomic(target, o.data, { mode: o.mode });
}

/** Atomically point `abs` at `linkTarget` (systemd `enable` does the same with a symlink). */
export async function linkOwned(ctx: Owner, o: { abs: string; linkTarget: string; step: string }): Promise<void> {
  const target = nodePath(ctx.node.root, o.abs);
  await ctx.record.claim(o.abs, { sha256: `symlink:${o.linkTarget}`, step: o.step });
  await mkdir(path.dirname(target), { recursive: true, mode: 0o755 });
  await removeStaleTemps(target);
  const tmp = tempPathFor(target);
  await symlink(o.linkTarget, tmp);
  await rename(tmp, target);
}

/** Remove a file the applier wrote, forget it, and drop its folder when that is now empty. */
export async function removeOwned(ctx: Owner, abs: string): Promise<void> {
  const target = nodePath(ctx.node.root, abs);
  await rm(target, { force: true });
  await removeStaleTemps(target);
  await ctx.record.forget(abs);
  await rmdir(path.dirname(target)).catch(() => undefined);
}

export function ownedBy(state: Readonly<AirgapState>, step: string): string[] {
  return Object.entries(state.files)
    .filter(([, f]) => f.step === step)
    .map(([abs]) => abs)
    .sort();
}

/** Temp files of an earlier run that was killed mid-write: core's one temp cleanup (see tempPathFor). */
export { removeStaleTemps };
