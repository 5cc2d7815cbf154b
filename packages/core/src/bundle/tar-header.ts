import { BLOCK } from './tar-layout.ts';

/** The largest size the 11-digit octal field holds; larger entries use GNU base-256. */
const MAX_OCTAL_SIZE = 0o77777777777;

export interface HeaderFields {
  name: string;
  size: number;
  mode: number;
  /** Seconds since the epoch. */
  mtime: number;
}

/**
 * A ustar header for a regular file owned by 0:0 with empty user and group names. The writer
 * emits exactly these bytes and the reader compares every header byte for byte against them,
 * so no field of the archive can change without verification failing.
 */
export function encodeHeader(h: HeaderFields): Buffer {
  const buf = Buffer.alloc(BLOCK);
  const name = Buffer.from(h.name, 'utf8');
  if (name.length > 100) throw new Error(`tar entry name too long: ${h.name}`);
  name.copy(buf, 0);
  octal(buf, 100, 8, h.mode);
  octal(buf, 108, 8, 0);
  octal(buf, 116, 8, 0);
  if (h.size > MAX_OCTAL_SIZE) base256(buf, 124, 12, h.size);
  else octal(buf, 124, 12, h.size);
  octal(buf, 136, 12, h.mtime);
  buf.fill(0x20, 148, 156);
  buf[156] = 0x30; // '0': regular file
  buf.write('ustar\u000000', 257, 'latin1');
  octal(buf, 329, 8, 0);
  octal(buf, 337, 8, 0);
  let sum = 0;
  for (const byte of buf) sum += byte;
  buf.write(`${sum.toString(8).padStart(6, '0')}\u0000 `, 148, 'latin1');
  return buf;
}

/** Name and size from a header, read only for the first entry, before the manifest is known. */
export function peekHeader(buf: Buffer): { name: string; size: number } | undefined {
  if (buf.length !== BLOCK || buf.subarray(257, 263).toString('latin1') !== 'ustar\u0000') return undefined;
  const end = buf.indexOf(0, 0);
  const name = buf.subarray(0, end < 0 || end > 100 ? 100 : end).toString('utf8');
  const sizeField = buf.subarray(124, 136).toString('latin1').replace(/\0.*$/s, '').trim();
  if (!/^[0-7]{1,11}$/.test(sizeField)) return undefined;
  return { name, size: parseInt(sizeField, 8) };
}

function octal(buf: Buffer, offset: number, length: number, value: number): void {
  buf.write(`${value.toString(8).padStart(length - 1, '0')}\u0000`, offset, length, 'latin1');
}

function base256(buf: Buffer, offset: number, length: number, value: number): void {
  let v = BigInt(value);
  for (let i = offset + length - 1; i > offset; i--) {
    buf[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  buf[offset] = 0x80;
}
