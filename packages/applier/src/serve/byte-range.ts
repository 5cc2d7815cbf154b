/** What a `Range` header asks of a blob of `size` bytes (RFC 9110 §14.1.2, one range only). */
export type RangeRequest =
  /** No Range, or one we may ignore (multiple ranges, another unit, bad syntax): send it all, 200. */
  | { kind: 'whole' }
  /** Bytes start..end inclusive: 206 with Content-Range. */
  | { kind: 'partial'; start: number; end: number }
  /** No byte of it is in the blob: 416 with `Content-Range: bytes *\/size`. */
  | { kind: 'unsatisfiable' };

const ONE_RANGE = /^bytes=(\d*)-(\d*)$/;

/**
 * Pure. A server may ignore a Range it does not support (RFC 9110 §14.2): several ranges are
 * answered whole, which every registry client accepts (containerd resumes with one `bytes=N-`).
 */
export function parseRange(header: string | undefined, size: number): RangeRequest {
  if (header === undefined) return { kind: 'whole' };
  const m = ONE_RANGE.exec(header.trim());
  if (!m) return { kind: 'whole' };
  const [, first, last] = m as unknown as [string, string, string];
  if (first === '' && last === '') return { kind: 'whole' };
  if (first === '') {
    // bytes=-N: the last N bytes.
    const n = Number(last);
    if (n === 0 || size === 0) return { kind: 'unsatisfiable' };
    return { kind: 'partial', start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(first);
  if (!Number.isSafeInteger(start)) return { kind: 'whole' };
  const end = last === '' ? size - 1 : Math.min(Number(last), size - 1);
  if (last !== '' && Number(last) < start) return { kind: 'whole' };
  if (start >= size) return { kind: 'unsatisfiable' };
  return { kind: 'partial', start, end };
}
