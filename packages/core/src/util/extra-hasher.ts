import { createHash } from 'node:crypto';
import { Worker } from 'node:worker_threads';

/** Below this, a worker thread costs more than it saves. */
const WORKER_THRESHOLD = 16 * 1024 * 1024;
/** Chunks handed to the worker and not yet hashed: bounds memory (4 MiB with 1 MiB chunks; 8 hashed no faster). */
const MAX_IN_FLIGHT = 4;

/**
 * Digests besides SHA-256 (a snap's SHA3-384), fed the same chunks. SHA3-384 is ~4x slower than
 * SHA-256 with SHA-NI and would set the pace of every build, so for large inputs it runs on a
 * worker thread, in parallel with the reading, SHA-256 and writing done by the caller.
 */
export interface ExtraHasher {
  /**
   * Hash the next chunk. With `transfer`, the chunk's memory is moved to the worker instead of
   * copied, and handed back whole through `recycle` once hashed: the caller must own the chunk's
   * whole ArrayBuffer (Buffer.allocUnsafeSlow) and not touch it until then. Resolves once fewer
   * than MAX_IN_FLIGHT chunks wait.
   */
  update(chunk: Buffer, options?: { transfer?: boolean }): Promise<void>;
  digest(): Promise<Record<string, Buffer>>;
  close(): Promise<void>;
}

export interface ExtraHasherOptions {
  /** Gets back each transferred chunk's whole buffer once it is hashed, for reuse. */
  recycle?: (buffer: Buffer) => void;
}

/** An ExtraHasher for `algorithms` over an input of `size` bytes: in-thread when small. */
export function extraHasher(algorithms: readonly string[], size: number, options: ExtraHasherOptions = {}): ExtraHasher {
  if (size >= WORKER_THRESHOLD) return workerHasher(algorithms, options);
  const hashes = algorithms.map((alg) => [alg, createHash(alg)] as const);
  return {
    update: (chunk, o = {}) => {
      for (const [, h] of hashes) h.update(chunk);
      if (o.transfer) options.recycle?.(Buffer.from(chunk.buffer));
      return Promise.resolve();
    },
    digest: () => Promise.resolve(Object.fromEntries(hashes.map(([alg, h]) => [alg, h.digest()]))),
    close: () => Promise.resolve(),
  };
}

// Plain CommonJS for `eval: true`, so it survives bundling into one file.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const hashes = workerData.map((alg) => [alg, createHash(alg)]);
parentPort.on('message', (m) => {
  if (m === null) {
    parentPort.postMessage({ digests: Object.fromEntries(hashes.map(([alg, h]) => [alg, h.digest()])) });
    return;
  }
  for (const [, h] of hashes) h.update(m.chunk);
  // A transferred buffer goes back to the caller for reuse; a copied one is simply dropped.
  if (m.transferred) parentPort.postMessage({ done: m.chunk.buffer }, [m.chunk.buffer]);
  else parentPort.postMessage({ done: null });
});
`;

type FromWorker = { done: ArrayBuffer | null } | { digests: Record<string, Uint8Array> };

function workerHasher(algorithms: readonly string[], options: ExtraHasherOptions): ExtraHasher {
  const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: algorithms });
  let inFlight = 0;
  let waiting: (() => void) | undefined;
  let result: ((digests: Record<string, Uint8Array>) => void) | undefined;
  let failure: Error | undefined;
  worker.on('message', (m: FromWorker) => {
    if ('done' in m) {
      if (m.done) options.recycle?.(Buffer.from(m.done));
      inFlight--;
      waiting?.();
      waiting = undefined;
    } else result?.(m.digests);
  });
  worker.on('error', (err) => {
    failure = err;
    waiting?.();
  });
  return {
    async update(chunk, o = {}) {
      if (failure) throw failure;
      // A view over the chunk's bytes only: a transferred buffer arrives whole, so the worker must
      // be told where the chunk ends.
      const view = new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
      const transferred = o.transfer === true && chunk.buffer instanceof ArrayBuffer;
      worker.postMessage({ chunk: view, transferred }, transferred ? [chunk.buffer] : []);
      inFlight++;
      while (inFlight >= MAX_IN_FLIGHT && !failure) await new Promise<void>((r) => (waiting = r));
      // Set by the 'error' listener while we waited; TS cannot see that.
      const failed = failure as Error | undefined;
      if (failed) throw failed;
    },
    async digest() {
      const digests = await new Promise<Record<string, Uint8Array>>((resolve) => {
        result = resolve;
        worker.postMessage(null);
      });
      return Object.fromEntries(Object.entries(digests).map(([alg, d]) => [alg, Buffer.from(d)]));
    },
    async close() {
      await worker.terminate();
    },
  };
}
