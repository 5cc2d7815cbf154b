import { stat, statfs } from 'node:fs/promises';
import path from 'node:path';
import { nodePath } from './node-path.ts';

/** One file system of the node, as preflight names it. */
export interface FileSystemSeen {
  /** `stat().dev` of the paths on it: equal devices, one file system. */
  dev: number;
  /** Node path of its mount point: the highest folder (up to the root) still on this device. */
  mount: string;
  /** Bytes a writer can still use (statfs `bavail`: what root keeps back is not counted). */
  freeBytes: number;
}

/**
 * The file system a node path will be written to: the one holding its nearest existing
 * ancestor under `root` (a folder the apply creates lands where its parent is). Each
 * file system is stat'ed once per `cache`.
 */
export async function fileSystemOf(root: string, abs: string, cache: Map<number, FileSystemSeen>): Promise<FileSystemSeen> {
  const { node, dev } = await nearestExisting(root, abs);
  const known = cache.get(dev);
  if (known) return known;
  const s = await statfs(under(root, node));
  const seen = { dev, mount: await mountPoint(root, node, dev), freeBytes: s.bavail * s.bsize };
  cache.set(dev, seen);
  return seen;
}

async function nearestExisting(root: string, abs: string): Promise<{ node: string; dev: number }> {
  for (let p = path.posix.normalize(abs); ; p = path.posix.dirname(p)) {
    const s = await stat(under(root, p)).catch(() => undefined);
    if (s) return { node: p, dev: s.dev };
    // The root itself must exist: readNodeFacts and loadState have read it.
    if (p === '/') throw new Error(`${root} does not exist`);
  }
}

/** Walks up while the parent is on the same device; stops at the node's root (`/`). */
async function mountPoint(root: string, from: string, dev: number): Promise<string> {
  let p = from;
  while (p !== '/') {
    const parent = path.posix.dirname(p);
    if ((await stat(under(root, parent))).dev !== dev) break;
    p = parent;
  }
  return p;
}

/** nodePath, and the root itself for `/` (which nodePath refuses: it names no file under the root). */
function under(root: string, p: string): string {
  return p === '/' ? root : nodePath(root, p);
}
