/** Small enough to stay in cache between SHA-256, the write and the worker's SHA3-384 (measured: 4 MiB chunks cost ~15% more CPU). */
export const CHUNK = 1024 * 1024;

/**
 * The chunk buffers of one bundle write (shared by every entry it copies) or one file's hash: the same few megabytes
 * go round (read, hashed, written, hashed again on the worker, back here) whatever the number of
 * entries. A pool per entry made three fresh chunks for every image layer, garbage that raised the
 * peak RSS by ~20 MiB before a full GC took it back.
 */
export interface ChunkPool {
  /** A CHUNK-sized buffer that owns its whole ArrayBuffer (so it can be transferred to a worker). */
  take(): Buffer;
  give(buffer: Buffer): void;
}

export function chunkPool(): ChunkPool {
  const free: Buffer[] = [];
  return {
    take: () => free.pop() ?? Buffer.allocUnsafeSlow(CHUNK),
    // Only whole chunks: a subarray (a file's last, short chunk) comes back as its whole buffer.
    give: (buffer) => void (buffer.byteLength === CHUNK && buffer.byteOffset === 0 && free.push(buffer)),
  };
}
