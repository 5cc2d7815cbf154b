import { createHash, type KeyObject } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { canonicalJson } from '../util/canonical-json.ts';
import { eachLimit } from '../util/each-limit.ts';
import { asIoError } from '../util/io-error.ts';
import { openBundleOutput, type BundleOutput } from './bundle-output.ts';
import type { BundleSource } from './bundle-source.ts';
import { chunkPool } from '../util/chunk-pool.ts';
import { copyEntry, writeAll } from './copy-entry.ts';
import { assertEntryPath } from './entry-path.ts';
import { signManifest } from './keys.ts';
import { manifestMtime } from './read-bundle.ts';
import { encodeHeader } from './tar-header.ts';
import { BLOCK, paddedSize } from './tar-layout.ts';
import { MANIFEST_PATH, SIGNATURE_PATH, SUMS_PATH, type BundleManifest, type ManifestEntry } from './manifest.ts';

export type { BundleSource, ExpectedDigest } from './bundle-source.ts';

export interface WriteBundleOptions {
  out: string;
  manifest: Omit<BundleManifest, 'entries'>;
  sources: readonly BundleSource[];
  key: KeyObject;
  /**
   * Write parts of at most this many bytes, `OUT.000`, `OUT.001`, …, instead of OUT: a pure
   * byte split, so `cat OUT.*` is the unsplit bundle. @example 4000 * 1024 * 1024
   */
  split?: number;
}

export interface WrittenBundle {
  /** The bundle, or its first part when split. */
  path: string;
  /** Every file written, in order (just `path` when not split). */
  files: string[];
  manifest: BundleManifest;
  size: number;
}

/** Stands for a SHA-256 not known until the file has been copied: same length, so same layout. */
const UNKNOWN_SHA256 = '0'.repeat(64);
/** Two: one lane's SHA3-384 worker, the other's reading, hashing and writing fill two cores. */
const COPIES_AT_ONCE = 2;

/**
 * Write the signed bundle: manifest, signature, SHA256SUMS, then the payload sorted by path.
 *
 * The manifest comes first in the tar but lists every payload digest. Rather than reading every
 * source twice (once to hash, once to copy), the writer reserves the head of the file (its length
 * follows from the sizes and paths alone: digests are fixed-width hex), copies and hashes the
 * payload after it in one pass, then signs the finished manifest and writes the head last.
 * Written to a temp name and renamed, so a failed build leaves nothing at `out`. With `split`,
 * the same bytes go to parts by position (see bundle-output.ts), each renamed once all are synced.
 */
export async function writeBundle(options: WriteBundleOptions): Promise<WrittenBundle> {
  const payload = [...options.sources].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const entries: ManifestEntry[] = [];
  const seen = new Set<string>();
  for (const source of payload) {
    assertEntryPath(source.path);
    if (seen.has(source.path)) throw new Error(`bundle entry ${source.path} added twice`);
    seen.add(source.path);
    entries.push(await planEntry(source));
  }
  // Every header carries the manifest's createdAt: SOURCE_DATE_EPOCH makes the whole file reproducible.
  const mtime = manifestMtime(options.manifest);
  const reserved = head(options, entries, mtime).bytes.length;

  // Every entry's place follows from the sizes, so entries can be copied side by side: while
  // one snap's SHA3-384 keeps a worker busy, the next file is read, hashed and written.
  const dataOffsets: number[] = [];
  let end = reserved;
  for (const entry of entries) {
    dataOffsets.push(end + BLOCK);
    end += BLOCK + paddedSize(entry.size);
  }
  let out: BundleOutput | undefined;
  let manifest: BundleManifest;
  let files: string[];
  try {
    out = await openBundleOutput({ out: options.out, size: end + 2 * BLOCK, split: options.split });
    const sink = out;
    const pool = chunkPool();
    await eachLimit(copyOrder(payload, entries), COPIES_AT_ONCE, async (i, _, signal) => {
      const source = payload[i]!;
      const entry = entries[i]!;
      const offset = dataOffsets[i]!;
      await writeAll(sink, encodeHeader({ name: entry.path, size: entry.size, mode: entry.mode, mtime }), offset - BLOCK);
      if ('data' in source) await writeAll(sink, source.data, offset);
      else entry.sha256 = await copyEntry(sink, offset, { file: source.file, size: entry.size, sha256: source.sha256, expect: source.expect, signal, pool });
      const padding = paddedSize(entry.size) - entry.size;
      if (padding > 0) await writeAll(sink, Buffer.alloc(padding), offset + entry.size);
    });
    await writeAll(sink, Buffer.alloc(2 * BLOCK), end);
    const done = head(options, entries, mtime);
    if (done.bytes.length !== reserved) throw new Error(`bundle head is ${done.bytes.length} bytes, ${reserved} were reserved`);
    await writeAll(sink, done.bytes, 0);
    manifest = done.manifest;
    files = await sink.commit();
  } catch (err) {
    await out?.abort();
    throw asIoError(err, 'write bundle', options.out);
  }
  return { path: files[0]!, files, manifest, size: end + 2 * BLOCK };
}

/**
 * The order entries are copied in (their places in the file are fixed already): first the ones
 * with a digest to compute on a worker (a snap's SHA3-384, ~4x slower than SHA-256), largest
 * first, then the rest in file order. The tar puts `images/` before `snaps/`, so in file order the
 * largest snap's SHA3-384, the longest single job of a build, started only once every image was
 * copied; started first, it runs on one core for the whole build while the other copies the rest.
 */
export function copyOrder(sources: readonly BundleSource[], entries: readonly ManifestEntry[]): number[] {
  const slow = (i: number) => {
    const s = sources[i]!;
    return 'file' in s && s.expect !== undefined && s.expect.known === undefined;
  };
  const indices = entries.map((_, i) => i);
  const first = indices.filter(slow).sort((a, b) => entries[b]!.size - entries[a]!.size || a - b);
  return [...first, ...indices.filter((i) => !slow(i))];
}

/** A payload entry as far as it is known before the copy: size, and the SHA-256 when given. */
async function planEntry(source: BundleSource): Promise<ManifestEntry> {
  const mode = source.mode ?? 0o644;
  if ('data' in source) return { path: source.path, size: source.data.length, sha256: sha256(source.data), mode };
  const size = source.size ?? (await stat(source.file)).size;
  return { path: source.path, size, sha256: source.sha256 ?? UNKNOWN_SHA256, mode };
}

/** The first three tar entries: manifest, its signature, SHA256SUMS (each header, data, padding). */
function head(options: WriteBundleOptions, entries: readonly ManifestEntry[], mtime: number): { bytes: Buffer; manifest: BundleManifest } {
  const sums = Buffer.from(entries.map((e) => `${e.sha256}  ${e.path}\n`).join(''));
  const sumsEntry: ManifestEntry = { path: SUMS_PATH, size: sums.length, sha256: sha256(sums), mode: 0o644 };
  const manifest: BundleManifest = { ...options.manifest, entries: [sumsEntry, ...entries.map((e) => ({ ...e }))] };
  const manifestBytes = Buffer.from(canonicalJson(manifest));
  const signature = signManifest(manifestBytes, options.key);
  const parts = [tarEntry(MANIFEST_PATH, manifestBytes, mtime), tarEntry(SIGNATURE_PATH, signature, mtime), tarEntry(SUMS_PATH, sums, mtime)];
  return { bytes: Buffer.concat(parts.flat()), manifest };
}

function tarEntry(name: string, data: Uint8Array, mtime: number): Buffer[] {
  return [encodeHeader({ name, size: data.length, mode: 0o644, mtime }), Buffer.from(data), Buffer.alloc(paddedSize(data.length) - data.length)];
}

function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}
