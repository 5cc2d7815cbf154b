import { createHash, type KeyObject } from 'node:crypto';
import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import { rename, rm, stat } from 'node:fs/promises';
import { once } from 'node:events';
import { AirgapError } from '../errors.ts';
import { canonicalJson } from '../util/canonical-json.ts';
import { removeStaleTemps, tempPathFor } from '../util/atomic-write.ts';
import { asIoError } from '../util/io-error.ts';
import { hashFile } from '../util/hash-file.ts';
import { assertEntryPath } from './entry-path.ts';
import { signManifest } from './keys.ts';
import { manifestMtime } from './read-bundle.ts';
import { encodeHeader } from './tar-header.ts';
import { BLOCK, paddedSize } from './tar-layout.ts';
import { MANIFEST_PATH, SIGNATURE_PATH, SUMS_PATH, type BundleManifest, type ManifestEntry } from './manifest.ts';

/** A payload entry: a file on disk (streamed) or bytes made by the bundler. */
export type BundleSource =
  | { path: string; file: string; mode?: number; sha256?: string; size?: number }
  | { path: string; data: Uint8Array; mode?: number };

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

/**
 * Write the signed bundle: manifest, signature, SHA256SUMS, then the payload sorted by path.
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
    entries.push(await describeSource(source));
  }
  const sums = Buffer.from(entries.map((e) => `${e.sha256}  ${e.path}\n`).join(''));
  const sumsEntry: ManifestEntry = { path: SUMS_PATH, size: sums.length, sha256: sha256(sums), mode: 0o644 };
  const manifest: BundleManifest = { ...options.manifest, entries: [sumsEntry, ...entries] };
  const manifestBytes = Buffer.from(canonicalJson(manifest));
  const signature = signManifest(manifestBytes, options.key);

  await removeStaleTemps(options.out);
  const tmp = tempPathFor(options.out);
  const out = createWriteStream(tmp, { mode: 0o644, highWaterMark: 1024 * 1024 });
  const closed = new Promise<void>((resolve, reject) => {
    out.once('close', resolve);
    out.once('error', reject);
  });
  closed.catch(() => undefined); // observed below; a write error must not crash the process first
  // Every header carries the manifest's createdAt: SOURCE_DATE_EPOCH makes the whole file reproducible.
  const mtime = manifestMtime(manifest);
  try {
    await writeBytes(out, MANIFEST_PATH, manifestBytes, mtime, 0o644);
    await writeBytes(out, SIGNATURE_PATH, signature, mtime, 0o644);
    await writeBytes(out, SUMS_PATH, sums, mtime, 0o644);
    for (const [i, source] of payload.entries()) {
      const entry = entries[i]!;
      if ('data' in source) await writeBytes(out, entry.path, Buffer.from(source.data), mtime, entry.mode);
      else await writeFileEntry(out, source.file, entry, mtime);
    }
    await write(out, Buffer.alloc(2 * BLOCK));
    out.end();
    await closed;
    await rename(tmp, options.out);
  } catch (err) {
    out.destroy();
    await closed.catch(() => undefined);
    await rm(tmp, { force: true });
    throw asIoError(err, 'write bundle', options.out);
  }
  return { path: options.out, manifest, size: (await stat(options.out)).size };
}

async function describeSource(source: BundleSource): Promise<ManifestEntry> {
  const mode = source.mode ?? 0o644;
  if ('data' in source) return { path: source.path, size: source.data.length, sha256: sha256(source.data), mode };
  if (source.sha256 !== undefined && source.size !== undefined) return { path: source.path, size: source.size, sha256: source.sha256, mode };
  const digest = await hashFile(source.file);
  return { path: source.path, size: digest.size, sha256: digest.sha256, mode };
}

async function write(out: WriteStream, chunk: Buffer): Promise<void> {
  if (out.errored) throw out.errored;
  // events.once rejects when 'error' comes first, so a full disk cannot leave us waiting.
  if (!out.write(chunk)) await once(out, 'drain');
}

async function writeBytes(out: WriteStream, name: string, data: Buffer, mtime: number, mode: number): Promise<void> {
  await write(out, encodeHeader({ name, size: data.length, mode, mtime }));
  await write(out, data);
  await write(out, Buffer.alloc(paddedSize(data.length) - data.length));
}

/** Stream a file into the tar, hashing it again: a file changed since it was hashed fails the build. */
async function writeFileEntry(out: WriteStream, file: string, entry: ManifestEntry, mtime: number): Promise<void> {
  await write(out, encodeHeader({ name: entry.path, size: entry.size, mode: entry.mode, mtime }));
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of createReadStream(file, { highWaterMark: 1024 * 1024 }) as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > entry.size) break;
    hash.update(chunk);
    await write(out, chunk);
  }
  if (size !== entry.size || hash.digest('hex') !== entry.sha256) {
    throw new AirgapError('DIGEST_MISMATCH', `${file} changed while the bundle was being written`, { hint: 'make sure nothing writes to the sources during a build, then run it again' });
  }
  await write(out, Buffer.alloc(paddedSize(entry.size) - entry.size));
}

function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}
