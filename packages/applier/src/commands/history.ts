import path from 'node:path';
import { readHistory, type HistoryEntry } from '../state/history.ts';

/** The node's apply history (/var/lib/airgap/history.jsonl), oldest first. */
export async function historyCommand(o: { root?: string }): Promise<HistoryEntry[]> {
  return readHistory(path.resolve(o.root ?? '/'));
}

export function formatHistory(entries: readonly HistoryEntry[]): string {
  if (entries.length === 0) return 'no apply recorded yet';
  return entries
    .map((e) => {
      const seq = e.bundle.sequence === undefined ? '' : ` #${e.bundle.sequence}`;
      const what = e.result === 'ok' ? `${e.changes.length} change(s)` : `${e.error?.code ?? 'failed'}: ${(e.error?.message ?? '').split('\n')[0]}`;
      return `${e.time}  ${e.result.padEnd(6)} ${e.bundle.name}${seq} ${e.bundle.digest.slice(0, 19)} signed by ${e.bundle.signer}  ${what}`;
    })
    .join('\n');
}
