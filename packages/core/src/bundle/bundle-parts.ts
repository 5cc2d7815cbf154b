import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { AirgapError } from '../errors.ts';

/** One file of a bundle: the whole bundle, or one part of a split one (`bundle.tar.000`, …). */
export interface BundlePart {
  path: string;
  /** Byte offset of the part's first byte in the bundle. */
  start: number;
  size: number;
}

/** The files a bundle is read from, in order: their bytes, one after the other, are the bundle. */
export interface BundleFiles {
  parts: BundlePart[];
  size: number;
  split: boolean;
}

/** At most 1000 parts: three digits, so `cat bundle.tar.*` takes them in order. */
export const MAX_PARTS = 1000;
const PART_NAME = /^(.+)\.(\d{3})$/;

/** `bundle.tar` → `bundle.tar.000`, `bundle.tar.001`, … */
export function partPath(out: string, index: number): string {
  return `${out}.${String(index).padStart(3, '0')}`;
}

const invalid = (message: string, hint = 'copy every part again from the source (bundle.tar.000, .001, … all of them)') =>
  new AirgapError('BUNDLE_INVALID', message, { hint });

/**
 * The files of the bundle named on the command line: a plain bundle file, the first part of a
 * split one (`bundle.tar.000`), or a folder holding the parts of one bundle. A part that is
 * missing in the sequence, or one that is not the size of the others, is named here; a missing
 * last part shows as a bundle shorter than its manifest (see `describeShort`).
 */
export async function bundleFiles(input: string): Promise<BundleFiles> {
  const s = await stat(input).catch((err: unknown) => {
    throw new AirgapError('BUNDLE_INVALID', `cannot read bundle ${input}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { cause: err });
  });
  if (s.isDirectory()) return splitFiles(path.join(input, await firstPartIn(input)));
  const m = PART_NAME.exec(path.basename(input));
  if (!m) return { parts: [{ path: input, start: 0, size: s.size }], size: s.size, split: false };
  if (m[2] !== '000')
    throw invalid(`${input} is not the first part of a split bundle`, `pass ${path.join(path.dirname(input), `${m[1]}.000`)} or the folder holding the parts`);
  return splitFiles(input);
}

async function firstPartIn(dir: string): Promise<string> {
  const bases = new Set((await readdir(dir)).flatMap((name) => PART_NAME.exec(name)?.[1] ?? []));
  if (bases.size === 0) throw invalid(`${dir} holds no bundle parts (NAME.000, NAME.001, …)`, 'pass the bundle file, or the folder that holds its parts');
  if (bases.size > 1)
    throw invalid(`${dir} holds the parts of more than one bundle (${[...bases].sort().join(', ')})`, 'pass the first part (NAME.000) of the one you mean');
  return `${[...bases][0]!}.000`;
}

async function splitFiles(first: string): Promise<BundleFiles> {
  const dir = path.dirname(first);
  const base = path.basename(first).slice(0, -4);
  const numbers = (await readdir(dir))
    .flatMap((name) => {
      const m = PART_NAME.exec(name);
      return m && m[1] === base ? [Number(m[2])] : [];
    })
    .sort((a, b) => a - b);
  const parts: BundlePart[] = [];
  let start = 0;
  for (const [i, n] of numbers.entries()) {
    const file = partPath(path.join(dir, base), i);
    if (n !== i) throw invalid(`${path.basename(file)} is missing (found ${numbers.map((k) => String(k).padStart(3, '0')).join(', ')})`);
    const size = (await stat(file)).size;
    const first = parts[0];
    // A pure byte split: every part but the last has the first part's size, the last no more.
    if (first && (size > first.size || (i < numbers.length - 1 && size !== first.size))) {
      throw invalid(
        `${path.basename(file)} is ${size} bytes, ${path.basename(first.path)} is ${first.size}: every part but the last has the same size, so one of them was cut short or comes from another build`,
      );
    }
    parts.push({ path: file, start, size });
    start += size;
  }
  return { parts, size: start, split: true };
}

/** The parts holding bytes start..end-1, for error messages: `bundle.tar.002`, or `bundle.tar.001 and bundle.tar.002`. */
export function partsHolding(files: BundleFiles, start: number, end: number): string {
  const names = files.parts.filter((p) => p.start < Math.max(end, start + 1) && p.start + p.size > start).map((p) => path.basename(p.path));
  if (names.length === 0) return path.basename(files.parts.at(-1)!.path);
  return names.length === 1 ? names[0]! : `${names.slice(0, -1).join(', ')} and ${names.at(-1)!}`;
}

/** Why a bundle is shorter or longer than its manifest says, naming the part where it can. */
export function describeSizeMismatch(files: BundleFiles, shown: string, expected: number): string {
  if (!files.split) return `${shown} is ${files.size} bytes but its manifest describes ${expected}`;
  const last = files.parts.at(-1)!;
  const next = path.basename(partPath(last.path.slice(0, -4), files.parts.length));
  if (files.size < expected && last.size === files.parts[0]!.size) {
    return `the parts hold ${files.size} bytes but the manifest describes ${expected}: ${next} is missing (or more after it)`;
  }
  return `the parts hold ${files.size} bytes but the manifest describes ${expected}: ${path.basename(last.path)} (the last part) is ${files.size < expected ? 'cut short' : 'too long, or the parts are of another build'}`;
}

/**
 * Bytes start..end (inclusive) of the bundle as one stream, read part after part: nothing is
 * joined on disk. A part that cannot be read is named in the error.
 */
export function readRange(files: BundleFiles, start: number, end: number, highWaterMark = 1024 * 1024): Readable {
  if (end < start) return Readable.from([]);
  async function* chunks(): AsyncGenerator<Buffer> {
    for (const part of files.parts) {
      const from = Math.max(start, part.start);
      const to = Math.min(end, part.start + part.size - 1);
      if (from > to) continue;
      const input = createReadStream(part.path, { start: from - part.start, end: to - part.start, highWaterMark });
      try {
        for await (const chunk of input as AsyncIterable<Buffer>) yield chunk;
      } catch (err) {
        throw new AirgapError('BUNDLE_INVALID', `cannot read ${part.path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { cause: err });
      } finally {
        input.destroy();
      }
    }
  }
  return Readable.from(chunks(), { objectMode: false });
}
