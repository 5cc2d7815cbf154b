import { describe, expect, it } from 'vitest';
import { eachLimit } from '@airgap/core';

/** A promise and its resolve/reject, to decide from the test when a task ends (no sleeps). */
function deferred<T = void>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}
const tick = () => new Promise<void>((r) => setImmediate(r));

describe('eachLimit', () => {
  it('returns the results in item order, whatever order the tasks end in', async () => {
    const gates = [deferred(), deferred(), deferred()];
    const run = eachLimit([0, 1, 2], 3, async (n) => {
      await gates[n]!.promise;
      return n * 10;
    });
    gates[2]!.resolve();
    gates[0]!.resolve();
    gates[1]!.resolve();
    expect(await run).toEqual([0, 10, 20]);
  });

  it('runs at most `limit` at once', async () => {
    let active = 0;
    let most = 0;
    await eachLimit([...Array(20).keys()], 3, async () => {
      active++;
      most = Math.max(most, active);
      await tick();
      active--;
    });
    expect(most).toBe(3);
  });

  it('after the first failure starts nothing more, aborts the signal, waits for the running ones, throws the first failure', async () => {
    const started: number[] = [];
    const slow = deferred();
    let slowEnded = false;
    let aborted: unknown;
    const run = eachLimit([0, 1, 2, 3, 4], 2, async (n, _i, signal) => {
      started.push(n);
      if (n === 0) {
        signal.addEventListener('abort', () => {
          aborted = signal.reason as unknown;
        });
        await slow.promise;
        slowEnded = true;
        throw new Error('second failure');
      }
      throw new Error('first failure');
    });
    let settled = false;
    void run.catch(() => undefined).then(() => (settled = true));
    await tick();
    expect(started).toEqual([0, 1]);
    expect((aborted as Error).message).toBe('first failure');
    // Still waiting for item 0: nothing may run when eachLimit returns.
    expect(settled).toBe(false);
    slow.resolve();
    await expect(run).rejects.toThrow('first failure');
    expect(slowEnded).toBe(true);
    expect(started).toEqual([0, 1]);
  });

  it('takes an empty list', async () => {
    expect(await eachLimit([], 4, () => Promise.resolve(1))).toEqual([]);
  });
});
