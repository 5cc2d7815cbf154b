import { randomInt } from './random.ts';

export type MutationKind = 'flip' | 'truncate' | 'append' | 'reorder' | 'duplicate' | 'drop' | 'swap-signature' | 'zero-block';

export interface TarBlockEntry {
  /** Offset of the header and length of header + data + padding. */
  start: number;
  length: number;
}

/** The entries of a plain ustar file: header offsets and padded lengths, read from size fields. */
export function tarEntries(bytes: Buffer): TarBlockEntry[] {
  const out: TarBlockEntry[] = [];
  let pos = 0;
  while (pos + 512 <= bytes.length && !bytes.subarray(pos, pos + 512).every((b) => b === 0)) {
    const size = parseInt(
      bytes
        .subarray(pos + 124, pos + 136)
        .toString('latin1')
        .replace(/\0.*$/s, '')
        .trim() || '0',
      8,
    );
    const length = 512 + Math.ceil(size / 512) * 512;
    out.push({ start: pos, length });
    pos += length;
  }
  return out;
}

/** One seeded mutation of a bundle; `other` is another bundle signed by the same key. */
export function mutate(kind: MutationKind, bytes: Buffer, other: Buffer, rand: () => number): Buffer {
  const entries = tarEntries(bytes);
  const payload = entries.slice(2);
  const copy = Buffer.from(bytes);
  switch (kind) {
    case 'flip': {
      const at = randomInt(rand, copy.length);
      copy[at] = copy[at]! ^ (1 << randomInt(rand, 8));
      return copy;
    }
    case 'truncate':
      return copy.subarray(0, randomInt(rand, copy.length));
    case 'append': {
      const extra = Buffer.alloc(1 + randomInt(rand, 4096));
      for (let i = 0; i < extra.length; i++) extra[i] = randomInt(rand, 2) ? 0 : randomInt(rand, 256);
      return Buffer.concat([copy, extra]);
    }
    case 'reorder': {
      const i = randomInt(rand, payload.length);
      let j = randomInt(rand, payload.length);
      if (j === i) j = (i + 1) % payload.length;
      const [a, b] = [payload[Math.min(i, j)]!, payload[Math.max(i, j)]!];
      return Buffer.concat([
        bytes.subarray(0, a.start),
        bytes.subarray(b.start, b.start + b.length),
        bytes.subarray(a.start + a.length, b.start),
        bytes.subarray(a.start, a.start + a.length),
        bytes.subarray(b.start + b.length),
      ]);
    }
    case 'duplicate': {
      const e = payload[randomInt(rand, payload.length)]!;
      const at = payload[randomInt(rand, payload.length)]!.start;
      return Buffer.concat([bytes.subarray(0, at), bytes.subarray(e.start, e.start + e.length), bytes.subarray(at)]);
    }
    case 'drop': {
      const e = payload[randomInt(rand, payload.length)]!;
      return Buffer.concat([bytes.subarray(0, e.start), bytes.subarray(e.start + e.length)]);
    }
    case 'swap-signature': {
      // The other bundle's signature is valid, for the other manifest.
      const mine = entries[1]!;
      const theirs = tarEntries(other)[1]!;
      return Buffer.concat([
        bytes.subarray(0, mine.start),
        other.subarray(theirs.start, theirs.start + theirs.length),
        bytes.subarray(mine.start + mine.length),
      ]);
    }
    case 'zero-block': {
      const block = randomInt(rand, Math.floor(copy.length / 512));
      copy.fill(0, block * 512, block * 512 + 512);
      return copy.equals(bytes) ? Buffer.concat([copy, Buffer.alloc(512)]) : copy;
    }
  }
}

export const MUTATION_KINDS: MutationKind[] = ['flip', 'truncate', 'append', 'reorder', 'duplicate', 'drop', 'swap-signature', 'zero-block'];
