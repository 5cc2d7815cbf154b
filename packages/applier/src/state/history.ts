import { appendFile, mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { AirgapError } from '@airgap/core';
import { nodePath } from '../node/node-path.ts';
import { STATE_DIR } from './state-store.ts';

export const HISTORY_FILE = `${STATE_DIR}/history.jsonl`;

/** One apply that got past preflight: a line of history.jsonl. Runs refused before any change are not in it. */
export interface HistoryEntry {
  time: string;
  bundle: { name: string; digest: string; sequence?: number; createdAt: string; signer: string };
  result: 'ok' | 'failed';
  /** What the run changed, step by step (for a failed run: the error names the step). */
  changes: { step: string; action: string; target: string }[];
  error?: { code: string; message: string };
}

/** Append one line (O_APPEND: earlier lines are never rewritten). */
export async function appendHistory(root: string, entry: HistoryEntry): Promise<void> {
  const file = nodePath(root, HISTORY_FILE);
  await mkdir(path.dirname(file), { recursive: true, mode: 0o755 });
  await appendFile(file, `${JSON.stringify(entry)}\n`, { mode: 0o600, flag: 'a' });
}

/** Every entry, oldest first; a line cut short by a crash mid-append is skipped. */
export async function readHistory(root: string): Promise<HistoryEntry[]> {
  const file = nodePath(root, HISTORY_FILE);
  const text = await readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return '';
    throw new AirgapError('IO_FAILED', `cannot read ${HISTORY_FILE}: ${err.message}`, { cause: err });
  });
  const entries: HistoryEntry[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try {
      entries.push(JSON.parse(line) as HistoryEntry);
    } catch {
      // A torn last line: the run that wrote it was killed mid-append.
    }
  }
  return entries;
}
