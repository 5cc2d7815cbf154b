import type { Readable } from 'node:stream';

/**
 * Exact-length reads over a byte stream: headers are taken whole, data is handed on chunk by
 * chunk (never gathered) so an entry of any size streams in constant memory.
 */
export class BlockReader {
  private readonly iterator: AsyncIterator<Buffer>;
  private pending: Buffer = Buffer.alloc(0);
  private done = false;
  position = 0;

  constructor(stream: Readable) {
    this.iterator = (stream as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
  }

  private async fill(): Promise<boolean> {
    if (this.done) return false;
    const next = await this.iterator.next();
    if (next.done) {
      this.done = true;
      return false;
    }
    this.pending = this.pending.length === 0 ? next.value : Buffer.concat([this.pending, next.value]);
    return true;
  }

  /** Exactly n bytes, or undefined when the stream ends first. */
  async take(n: number): Promise<Buffer | undefined> {
    while (this.pending.length < n) if (!(await this.fill())) return undefined;
    const out = this.pending.subarray(0, n);
    this.pending = this.pending.subarray(n);
    this.position += n;
    return out;
  }

  /** The next n bytes as chunks; returns false when the stream ends first. */
  async stream(n: number, onChunk: (chunk: Buffer) => void | Promise<void>): Promise<boolean> {
    let left = n;
    while (left > 0) {
      if (this.pending.length === 0 && !(await this.fill())) return false;
      const chunk = this.pending.length <= left ? this.pending : this.pending.subarray(0, left);
      this.pending = this.pending.length <= left ? Buffer.alloc(0) : this.pending.subarray(left);
      left -= chunk.length;
      this.position += chunk.length;
      await onChunk(chunk);
    }
    return true;
  }

  /** True when nothing at all is left. */
  async atEnd(): Promise<boolean> {
    if (this.pending.length > 0) return false;
    return !(await this.fill()) && this.pending.length === 0;
  }
}
