import { Transform } from 'node:stream';

/**
 * Bytes start..end (inclusive) of what flows through. The entry is still read whole, through the
 * bundle's digest check: the last byte of the range is held back until the source has ended
 * cleanly, so a client never gets a complete range of bytes that failed the check (the stream
 * errors instead, and the connection is cut). Reading the rest of a blob from local disk costs
 * little next to sending it.
 */
export function sliceStream(start: number, end: number): Transform {
  let offset = 0;
  let held: Buffer | undefined;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      const from = Math.max(start - offset, 0);
      const to = Math.min(end + 1 - offset, chunk.length);
      offset += chunk.length;
      if (to > from) {
        const part = chunk.subarray(from, to);
        if (offset > end) {
          // The range ends in this chunk: keep its last byte for the end.
          if (part.length > 1) this.push(part.subarray(0, part.length - 1));
          held = part.subarray(part.length - 1);
        } else {
          this.push(part);
        }
      }
      callback();
    },
    flush(callback) {
      callback(null, held);
    },
  });
}
