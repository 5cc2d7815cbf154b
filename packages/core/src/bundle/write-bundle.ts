import { createHash, type KeyObject } from 'node:crypto';
import { open, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { canonicalJson } from '../util/canonical-json.ts';
import { removeStaleTemps, tempPathFor } from '../util/atomic-write.ts';
import { eachLimit } from '../util/each-limit.ts';
import { asIoError } from '../util/io-error.ts';
import type { BundleSource } from './bundle-source.ts';
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
}

export interface WrittenBundle {
  path: string;
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
 * Written to a temp name and renamed, so a failed build leaves nothing at `out`.
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

  await removeStaleTemps(options.out);
  const tmp = tempPathFor(options.out);
  let fh: FileHandle | undefined;
  let manifest: BundleManifest;
  try {
    const out = (fh = await open(tmp, 'wx', 0o644));
    // Every entry's place follows from the sizes, so entries can be copied side by side: while
    // one snap's SHA3-384 keeps a worker busy, the next file is read, hashed and written.
    const dataOffsets: number[] = [];
    let end = reserved;
    for (const entry of entries) {
      dataOffsets.push(end + BLOCK);
      end += BLOCK + paddedSize(entry.size);
    }
    await eachLimit(payload, COPIES_AT_ONCE, async (source, i, signal) => {
      const entry = entries[i]!;
      const offset = dataOffsets[i]!;
      await writeAll(out, encodeHeader({ name: entry.path, size: entry.size, mode: entry.mode, mtime }), offset - BLOCK);
      if ('data' in source) await writeAll(out, source.data, offset);
      else entry.sha256 = await copyEntry(out, offset, { file: source.file, size: entry.size, sha256: source.sha256, expect: source.expect, signal });
      const padding = paddedSize(entry.size) - entry.size;
      if (padding > 0) await writeAll(out, Buffer.alloc(padding), offset + entry.size);
    });
    await writeAll(out, Buffer.alloc(2 * BLOCK), end);
    const done = head(options, entries, mtime);
    if (done.bytes.length !== reserved) throw new Error(`bundle head is ${done.bytes.length} bytes, ${reserved} were reserved`);
    await writeAll(out, done.bytes, 0);
    manifest = done.manifest;
    // On disk before it has its name: after a power loss the bundle is whole or absent.
    await out.sync();
    await out.close();
    fh = undefined;
    await rename(tmp, options.out);
    await syncDir(path.dirname(options.out));
  } catch (err) {
    await fh?.close().catch(() => undefined);
    await rm(tmp, { force: true });
    throw asIoError(err, 'write bundle', options.out);
  }
  return { path: options.out, manifest, size: (await stat(options.out)).size };
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

/** Make a rename durable (the directory entry); file systems that cannot fsync a directory are skipped. */
async function syncDir(dir: string): Promise<void> {
  const d = await open(dir, 'r').catch(() => undefined);
  try {
    await d?.sync();
  } catch {
    // EINVAL/EISDIR on some file systems: the rename is still atomic, only not yet durable.
  } finally {
    await d?.close();
  }
}
