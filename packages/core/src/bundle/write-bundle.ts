import { createHash, type KeyObject } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { rename, rm, stat } from 'node:fs/promises';
import { once } from 'node:events';
import { pipeline } from 'node:stream/promises';
import tar from 'tar-stream';
import { AirgapError } from '../errors.ts';
import { canonicalJson } from '../util/canonical-json.ts';
import { tempPathFor } from '../util/atomic-write.ts';
import { hashFile } from '../util/hash-file.ts';
import { assertEntryPath } from './entry-path.ts';
import { signManifest } from './keys.ts';
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
  /** Seconds since the epoch for every tar header (SOURCE_DATE_EPOCH). */
  mtime: number;
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

  const tmp = tempPathFor(options.out);
  const pack = tar.pack();
  const output = pipeline(pack, createWriteStream(tmp, { mode: 0o644 }));
  const mtime = new Date(options.mtime * 1000);
  try {
    await addBytes(pack, MANIFEST_PATH, manifestBytes, mtime, 0o644);
    await addBytes(pack, SIGNATURE_PATH, signature, mtime, 0o644);
    await addBytes(pack, SUMS_PATH, sums, mtime, 0o644);
    for (const [i, source] of payload.entries()) {
      const entry = entries[i]!;
      if ('data' in source) await addBytes(pack, entry.path, Buffer.from(source.data), mtime, entry.mode);
      else await addFile(pack, source.file, entry, mtime);
    }
    pack.finalize();
    await output;
    await rename(tmp, options.out);
  } catch (err) {
    pack.destroy();
    await output.catch(() => undefined);
    await rm(tmp, { force: true });
    throw err;
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

function header(name: string, size: number, mtime: Date, mode: number): tar.Header {
  return { name, size, mode, mtime, uid: 0, gid: 0, uname: '', gname: '', type: 'file', linkname: '', devmajor: 0, devminor: 0 };
}

async function addBytes(pack: tar.Pack, name: string, data: Buffer, mtime: Date, mode: number): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    pack.entry(header(name, data.length, mtime, mode), data, (err) => (err ? reject(err) : resolve()));
  });
}

/** Stream a file into the tar, hashing it again: a file changed since it was hashed fails the build. */
async function addFile(pack: tar.Pack, file: string, entry: ManifestEntry, mtime: Date): Promise<void> {
  const hash = createHash('sha256');
  let size = 0;
  const done = new Promise<void>((resolve, reject) => {
    const sink = pack.entry(header(entry.path, entry.size, mtime, entry.mode), (err) => (err ? reject(err) : resolve()));
    void (async () => {
      try {
        for await (const chunk of createReadStream(file, { highWaterMark: 1024 * 1024 }) as AsyncIterable<Buffer>) {
          hash.update(chunk);
          size += chunk.length;
          if (size > entry.size) break;
          if (!sink.write(chunk)) await once(sink, 'drain');
        }
        if (size !== entry.size || hash.digest('hex') !== entry.sha256) {
          const err = new AirgapError('DIGEST_MISMATCH', `${file} changed while the bundle was being written`, { hint: 'make sure nothing writes to the sources during a build, then run it again' });
          sink.destroy(err);
          reject(err);
          return;
        }
        sink.end(undefined);
      } catch (err) {
        sink.destroy(err as Error);
        reject(err as Error);
      }
    })();
  });
  await done;
}

function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}
