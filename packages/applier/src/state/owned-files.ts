import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, readlink, rm, rmdir, symlink, rename } from 'node:fs/promises';
import path from 'node:path';
import { tempPathFor, writeFileAtomic } from '@airgap/core';
import { nodePath } from '../node/node-path.ts';
import { testPause } from '../test-hooks.ts';
import type { Node, StepId } from '../types.ts';

export function sha256Of(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** sha256 of a node file, or undefined when it is missing. */
export async function currentSha256(node: Node, abs: string): Promise<string | undefined> {
  const data = await readFile(nodePath(node.root, abs)).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT' || err.code === 'ENOTDIR') return undefined;
    throw err;
  });
  return data === undefined ? undefined : sha256Of(data);
}

export async function currentLink(node: Node, abs: string): Promise<string | undefined> {
  return readlink(nodePath(node.root, abs)).catch(() => undefined);
}

/**
 * Claim the path in the state file first, then write it atomically: a crash in between leaves a
 * path the applier knows it owns, never a file it wrote and forgot.
 */
export async function writeOwned(node: Node, o: { abs: string; data: string | Uint8Array; mode: number; step: StepId }): Promise<void> {
  const target = nodePath(node.root, o.abs);
  node.state.value.files[o.abs] = { sha256: sha256Of(o.data), step: o.step };
  await node.state.save();
  await testPause(`claimed:${o.abs}`);
  await mkdir(path.dirname(target), { recursive: true, mode: 0o755 });
  await removeStaleTemps(target);
  await writeFileAtomic(target, o.data, { mode: o.mode });
}

/** Atomically point `abs` at `linkTarget` (systemd `enable` does the same with a symlink). */
export async function linkOwned(node: Node, o: { abs: string; linkTarget: string; step: StepId }): Promise<void> {
  const target = nodePath(node.root, o.abs);
  node.state.value.files[o.abs] = { sha256: `symlink:${o.linkTarget}`, step: o.step };
  await node.state.save();
  await mkdir(path.dirname(target), { recursive: true, mode: 0o755 });
  await removeStaleTemps(target);
  const tmp = tempPathFor(target);
  await symlink(o.linkTarget, tmp);
  await rename(tmp, target);
}

/** Remove a file the applier wrote, forget it, and drop its folder when that is now empty. */
export async function removeOwned(node: Node, abs: string): Promise<void> {
  const target = nodePath(node.root, abs);
  await rm(target, { force: true });
  await removeStaleTemps(target);
  delete node.state.value.files[abs];
  await node.state.save();
  await rmdir(path.dirname(target)).catch(() => undefined);
}

export function ownedBy(node: Node, step: StepId): string[] {
  return Object.entries(node.state.value.files)
    .filter(([, f]) => f.step === step)
    .map(([abs]) => abs)
    .sort();
}

/** Temp files of an earlier run that was killed mid-write (see tempPathFor). */
export async function removeStaleTemps(target: string): Promise<void> {
  const prefix = `.${path.basename(target)}.tmp-`;
  const names = await readdir(path.dirname(target)).catch(() => [] as string[]);
  await Promise.all(names.filter((n) => n.startsWith(prefix)).map((n) => rm(path.join(path.dirname(target), n), { force: true })));
}
