/** One answered (or cut) request, as `applier serve` logs it. */
export interface AccessEntry {
  /** ISO 8601, when the request ended. */
  time: string;
  /** Client address. */
  remote: string;
  method: string;
  /** Path and query as the client sent them. */
  url: string;
  status: number;
  /** Body bytes sent (0 for HEAD). */
  bytes: number;
  /** Milliseconds from the request to its end. */
  ms: number;
  /** False when the client went away, or the connection was cut, before the body was sent. */
  completed: boolean;
  /** Partial content: the Range header as the client sent it. */
  range?: string;
}

/** A connection turned away at --max-connections. */
export interface DropEntry {
  time: string;
  remote: string;
  dropped: 'max-connections';
  maxConnections: number;
}

export type ServeLogEntry = AccessEntry | DropEntry;

/**
 * One line per entry: `--json` gives one JSON object per line, for log shippers; the text form
 * reads like a web server's access log.
 */
export function formatLogEntry(e: ServeLogEntry, json: boolean): string {
  if (json) return JSON.stringify(e);
  if ('dropped' in e) return `${e.time} ${e.remote} connection refused: --max-connections ${e.maxConnections} reached`;
  const range = e.range ? ` range=${e.range}` : '';
  return `${e.time} ${e.remote} "${e.method} ${e.url}" ${e.status} ${e.bytes} ${e.ms}ms${range}${e.completed ? '' : ' (cut short)'}`;
}
