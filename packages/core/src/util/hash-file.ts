import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { Worker } from 'node:worker_threads';

export interface FileDigest {
  sha256: string;
  size: number;
}

/** Below this, a worker thread costs more than it saves. */
const WORKER_THRESHOLD = 64 * 1024 * 1024;
/** Chunks handed to the worker and not yet hashed: bounds memory to ~16 MiB. */
const MAX_IN_FLIGHT = 4;

/**
 * SHA-256 (hex) and size of a file, streamed; `extra` algorithms are computed from the same read.
 * For large files the extra hashes run on a worker thread, in parallel with SHA-256 here: SHA3-384
 * is ~4x slower than SHA-256 with SHA-NI, and would otherwise set the pace of every build.
 */
export async function hashFile(file: string, extra: readonly string[] = []): Promise<FileDigest & { extra: Record<string, Buffer> }> {
  const sha = createHash('sha256');
  const side = extra.length > 0 ? await sideHasher(file, extra) : undefined;
  let size = 0;
  try {
    for await (const chunk of createReadStream(file, { highWaterMark: 4 * 1024 * 1024 }) as AsyncIterable<Buffer>) {
      sha.update(chunk);
      size += chunk.length;
      await side?.update(chunk);
    }
    return { sha256: sha.digest('hex'), size, extra: side ? await side.digest() : {} };
  } finally {
    await side?.close();
  }
}

interface SideHasher {
  update(chunk: Buffer): Promise<void>;
  digest(): Promise<Record<string, Buffer>>;
  close(): Promise<void>;
}

async function sideHasher(file: string, algorithms: readonly string[]): Promise<SideHasher> {
  const { stat } = await import('node:fs/promises');
  if ((await stat(file)).size < WORKER_THRESHOLD) {
    const hashes = algorithms.map((alg) => [alg, createHash(alg)] as const);
    return {
      update: (chunk) => {
        for (const [, h] of hashes) h.update(chunk);
        return Promise.resolve();
      },
      digest: () => Promise.resolve(Object.fromEntries(hashes.map(([alg, h]) => [alg, h.digest()]))),
      close: () => Promise.resolve(),
    };
  }
  return workerHasher(algorithms);
}

// Plain CommonJS for `eval: true`, so it survives bundling into one file.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const hashes = workerData.map((alg) => [alg, createHash(alg)]);
parentPort.on('message', (chunk) => {
  if (chunk === null) {
    parentPort.postMessage(Object.fromEntries(hashes.map(([alg, h]) => [alg, h.digest()])));
    return;
  }
  for (const [, h] of hashes) h.update(chunk);
  parentPort.postMessage(1);
});
`;

function workerHasher(algorithms: readonly string[]): SideHasher {
  const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: algorithms });
  let inFlight = 0;
  let waiting: (() => void) | undefined;
  let result: ((digests: Record<string, Uint8Array>) => void) | undefined;
  let failure: Error | undefined;
  worker.on('message', (m: number | Record<string, Uint8Array>) => {
    if (typeof m === 'number') {
      inFlight--;
      waiting?.();
      waiting = undefined;
    } else result?.(m);
  });
  worker.on('error', (err) => {
    failure = err;
    waiting?.();
  });
  return {
    async update(chunk) {
      if (failure) throw failure;
      worker.postMessage(chunk);
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
