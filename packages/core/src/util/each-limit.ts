/**
 * `fn` over every item, at most `limit` at a time, the results in item order. The first failure
 * stops new items from starting and aborts the signal every call gets (for work that can be cut
 * off); it is thrown once every started call has ended, so nothing still runs when this returns.
 *
 * @example await eachLimit(blobs, 3, (blob, i, signal) => upload(blob, { signal }));
 */
export async function eachLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number, signal: AbortSignal) => Promise<R>): Promise<R[]> {
  if (!Number.isSafeInteger(limit) || limit < 1) throw new Error(`eachLimit: limit must be a positive integer, not ${limit}`);
  const abort = new AbortController();
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  let failure: { err: unknown } | undefined;
  const lane = async () => {
    while (next < items.length && !failure) {
      const i = next++;
      try {
        results[i] = await fn(items[i]!, i, abort.signal);
      } catch (err) {
        if (!failure) {
          failure = { err };
          abort.abort(err);
        }
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  if (failure) throw failure.err;
  return results;
}
