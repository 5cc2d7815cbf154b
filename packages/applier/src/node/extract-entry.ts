import { createWriteStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { openEntry, resolveInside } from '@airgap/core';
import { STATE_DIR } from '../state/state-store.ts';
import { nodePath } from './node-path.ts';
import type { NodeFacts } from '../types.ts';

type Node = Pick<NodeFacts, 'root' | 'bundle'>;

/** Scratch space for files handed to tools (snaps, assertions); emptied at the start of every apply. */
export function scratchDir(node: Node): string {
  return nodePath(node.root, `${STATE_DIR}/tmp`);
}

export async function resetScratch(node: Node): Promise<void> {
  await rm(scratchDir(node), { recursive: true, force: true });
}

/** Copy one bundle entry to the scratch folder, re-checking its digest on the way. */
export async function extractEntry(node: Node, entryPath: string): Promise<string> {
  const dir = scratchDir(node);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const out = resolveInside(dir, path.basename(entryPath));
  await pipeline(openEntry(node.bundle, entryPath), createWriteStream(out, { mode: 0o600 }));
  return out;
}
