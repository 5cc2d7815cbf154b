import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { PassThrough, Readable, Transform } from 'node:stream';
import { BlockReader, readAhead } from './block-reader.ts';
import { bundleFiles, describeSizeMismatch, partsHolding, readRange, type BundleFiles } from './bundle-parts.ts';
import { encodeHeader, peekHeader } from './tar-header.ts';
import { AirgapError } from '../errors.ts';
import { findSigner, type PublicKey } from './keys.ts';
import { MANIFEST_PATH, SIGNATURE_PATH, type BundleManifest, type ManifestEntry } from './manifest.ts';
import { BLOCK, paddedSize, tarLayout, type EntryLocation } from './tar-layout.ts';
import { validateManifest } from './validate-manifest.ts';

/** A manifest of tens of thousands of blobs is a few MiB; anything larger is refused unread. */
export const MAX_MANIFEST_BYTES = 64 * 1024 * 1024;

export interface VerifiedBundle {
  /** As named on the command line: the bundle file, its first part, or the folder of its parts. */
  file: string;
  /** The files its bytes are read from (one, or the parts of a split bundle). */
  files: BundleFiles;
  manifest: BundleManifest;
  /** sha256 of the manifest bytes: identifies the bundle (its signature covers everything). */
  digest: string;
  signer: PublicKey;
  locations: EntryLocation[];
  size: number;
  /** A delta's base, opened with `--base` (delta-source.ts `withBase`): the entries the delta leaves out are read from it. */
  base?: VerifiedBundle;
}

export interface VerifyOptions {
  keys: readonly PublicKey[];
  /**
   * Called for each payload entry with its verified-as-it-streams content. The entry's digest is
   * checked after the callback has consumed the stream: write to a temp name, and rename only
   * after verifyBundle resolves or the next entry arrives.
   */
  onEntry?: (entry: ManifestEntry, content: Readable) => Promise<void>;
}

export const invalid = (message: string, hint = 'the bundle is damaged or was altered; copy it again from the source') =>
  new AirgapError('BUNDLE_INVALID', message, { hint });

/**
 * Check the signature first, then every entry against the manifest, in one streaming pass with
 * constant memory. Every tar header must be byte-for-byte what the writer emits, padding must be
 * zeros and nothing may follow the end marker: no byte of the file is left unchecked.
 */
export async function verifyBundle(file: string, options: VerifyOptions): Promise<VerifiedBundle> {
  if (options.keys.length === 0) {
    throw new AirgapError('SIGNATURE_INVALID', 'no trusted public key given', { hint: "pass --pub FILE, or put the signer's .pub in /etc/airgap/trusted.d/" });
  }
  const files = await bundleFiles(file);
  // Without onEntry every chunk is hashed and dropped at once: the read buffers can be reused.
  const reader = new BlockReader(readAhead(files, 0, files.size - 1, { reuse: options.onEntry === undefined }));
  try {
    return await verifyStream(reader, file, files, options);
  } finally {
    await reader.close();
  }
}

async function verifyStream(reader: BlockReader, file: string, files: BundleFiles, options: VerifyOptions): Promise<VerifiedBundle> {
  const { manifest, mtime, first, second, signer } = await verifySignedHead(reader, file, options.keys);
  const layout = tarLayout(first.data.length, second.data.length, manifest.entries);
  if (layout.totalSize !== files.size && files.size === headSize(first.data.length)) {
    throw invalid(
      `${file} is the signed head of bundle ${manifest.name} (its manifest and signature, from \`bundler inspect --head\`), not the bundle`,
      'pass the bundle itself; `bundler verify` checks a head on its own',
    );
  }
  if (layout.totalSize !== files.size) throw invalid(describeSizeMismatch(files, file, layout.totalSize));

  for (const entry of manifest.entries) {
    const start = reader.position;
    try {
      const header = await reader.take(BLOCK);
      if (!header) throw invalid(`${file} ends before ${entry.path}`);
      if (!header.equals(encodeHeader({ name: entry.path, size: entry.size, mode: entry.mode, mtime }))) {
        const seen = peekHeader(header);
        throw invalid(
          seen && seen.name !== entry.path ? `found ${seen.name} where the manifest lists ${entry.path}` : `the tar header of ${entry.path} was altered`,
        );
      }
      await streamEntry(reader, entry, options.onEntry);
      await expectZeros(reader, paddedSize(entry.size) - entry.size, `padding after ${entry.path}`);
    } catch (err) {
      throw inParts(err, files, start, start + BLOCK + paddedSize(entry.size));
    }
  }
  await expectZeros(reader, 2 * BLOCK, 'end-of-archive marker');
  if (!(await reader.atEnd())) throw invalid(`${file} has data after its end-of-archive marker`);
  return { file, files, manifest, digest: createHash('sha256').update(first.data).digest('hex'), signer, locations: layout.locations, size: files.size };
}

/** A head file: the manifest and signature entries, then the end-of-archive marker. */
export function headSize(manifestBytes: number): number {
  return BLOCK + paddedSize(manifestBytes) + BLOCK + paddedSize(64) + 2 * BLOCK;
}

/** The first two entries, the signature checked against `keys` and both tar headers exact. */
export async function verifySignedHead(reader: BlockReader, file: string, keys: readonly PublicKey[]) {
  const first = await takeSmallEntry(reader, MANIFEST_PATH, MAX_MANIFEST_BYTES, 'this is not an airgap bundle, or it was re-packed');
  const second = await takeSmallEntry(reader, SIGNATURE_PATH, 64);
  if (second.data.length !== 64) throw invalid(`${SIGNATURE_PATH} must be 64 bytes`);
  const signer = findSigner(first.data, second.data, keys);
  if (!signer) {
    throw new AirgapError('SIGNATURE_INVALID', `${file} is not signed by a trusted key (tried ${keys.map((k) => `${k.source} ${k.fingerprint}`).join(', ')})`, {
      hint: 'check that you have the right bundle and the .pub of the key that built it; do not apply a bundle you cannot verify',
    });
  }
  const manifest = parseManifest(first.data);
  const mtime = manifestMtime(manifest);
  if (
    !first.header.equals(encodeHeader({ name: MANIFEST_PATH, size: first.data.length, mode: 0o644, mtime })) ||
    !second.header.equals(encodeHeader({ name: SIGNATURE_PATH, size: 64, mode: 0o644, mtime }))
  ) {
    throw invalid('the manifest or signature tar header was altered');
  }
  return { manifest, mtime, first, second, signer };
}

/** Of a split bundle, a damaged entry's error names the parts that hold its bytes: one of them is bad. */
function inParts(err: unknown, files: BundleFiles, start: number, end: number): unknown {
  if (!files.split || !(err instanceof AirgapError) || (err.code !== 'BUNDLE_INVALID' && err.code !== 'DIGEST_MISMATCH')) return err;
  const where = partsHolding(files, start, end);
  return new AirgapError(err.code, `${err.message} (its bytes are in ${where})`, {
    hint: `copy ${where.includes(' and ') ? 'those parts' : where} again from the source`,
    cause: err,
  });
}

export async function takeSmallEntry(reader: BlockReader, name: string, max: number, hint?: string): Promise<{ header: Buffer; data: Buffer }> {
  const header = await reader.take(BLOCK);
  const h = header && peekHeader(header);
  if (!header || !h || h.name !== name) throw invalid(`expected ${name} at byte ${reader.position - BLOCK}, found ${h ? h.name : 'no tar header'}`, hint);
  if (h.size > max) throw invalid(`${name} is ${h.size} bytes, more than ${max}`);
  const data = await reader.take(h.size);
  if (!data) throw invalid(`${name} is truncated`);
  await expectZeros(reader, paddedSize(h.size) - h.size, `padding after ${name}`);
  // Copies: a reader that reuses its buffers (verifyBundle) overwrites them as it reads on.
  return { header: Buffer.from(header), data: Buffer.from(data) };
}

export async function expectZeros(reader: BlockReader, n: number, what: string): Promise<void> {
  if (n === 0) return;
  const pad = await reader.take(n);
  if (!pad) throw invalid(`bundle ends inside the ${what}`);
  if (!pad.every((b) => b === 0)) throw invalid(`the ${what} is not zero`);
}

/** Hash an entry's bytes as they pass; hand them to the consumer, who sees an error, not an end, if they are wrong. */
async function streamEntry(reader: BlockReader, entry: ManifestEntry, onEntry: VerifyOptions['onEntry']): Promise<void> {
  const hash = createHash('sha256');
  if (!onEntry) {
    if (!(await reader.stream(entry.size, (c) => void hash.update(c)))) throw invalid(`bundle ends inside ${entry.path}`);
    checkDigest(entry, hash.digest('hex'));
    return;
  }
  const content = new PassThrough({ highWaterMark: 1024 * 1024 });
  let settled = false;
  const consumed = onEntry(entry, content).finally(() => {
    settled = true;
  });
  consumed.catch(() => undefined);
  try {
    const complete = await reader.stream(entry.size, async (chunk) => {
      hash.update(chunk);
      if (settled || content.destroyed) return;
      if (!content.write(chunk)) await Promise.race([once(content, 'drain'), consumed.catch(() => undefined)]);
    });
    if (!complete) throw invalid(`bundle ends inside ${entry.path}`);
    checkDigest(entry, hash.digest('hex'));
    content.end();
  } catch (err) {
    content.destroy(err as Error);
    await consumed.catch(() => undefined);
    throw err;
  }
  await consumed;
}

function checkDigest(entry: ManifestEntry, digest: string): void {
  if (digest !== entry.sha256) {
    throw new AirgapError('DIGEST_MISMATCH', `${entry.path} has sha256 ${digest}, the manifest says ${entry.sha256}`, {
      hint: 'the bundle was altered or damaged; copy it again',
    });
  }
}

/** Tar headers carry the manifest's createdAt, in whole seconds. */
export function manifestMtime(manifest: Pick<BundleManifest, 'createdAt'>): number {
  const ms = Date.parse(manifest.createdAt);
  if (!Number.isFinite(ms) || ms < 0) throw invalid(`manifest createdAt ${manifest.createdAt} is not a date`);
  return Math.floor(ms / 1000);
}

export function parseManifest(bytes: Buffer): BundleManifest {
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw invalid('manifest is not JSON');
  }
  return validateManifest(value);
}

/** Passes bytes through, failing at the end unless size and sha256 match the entry. */
export function verifyingStream(entry: ManifestEntry): Transform {
  const hash = createHash('sha256');
  let size = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      size += chunk.length;
      if (size > entry.size) return cb(new AirgapError('SIZE_MISMATCH', `${entry.path} is larger than the manifest says`));
      hash.update(chunk);
      cb(null, chunk);
    },
    flush(cb) {
      const digest = hash.digest('hex');
      if (size !== entry.size)
        return cb(
          new AirgapError('SIZE_MISMATCH', `${entry.path} is ${size} bytes, the manifest says ${entry.size}`, { hint: 'the bundle was altered or damaged' }),
        );
      if (digest !== entry.sha256)
        return cb(
          new AirgapError('DIGEST_MISMATCH', `${entry.path} has sha256 ${digest}, the manifest says ${entry.sha256}`, {
            hint: 'the bundle was altered or damaged; copy it again',
          }),
        );
      cb();
    },
  });
}

/** Read one entry of a verified bundle by offset, checking its digest again as it streams. */
export function openEntry(bundle: VerifiedBundle, path: string): Readable {
  const location = bundle.locations.find((l) => l.entry.path === path);
  if (!location) {
    const named = bundle.manifest.base;
    if (named?.omitted.some((e) => e.path === path)) {
      if (bundle.base) return openEntry(bundle.base, path);
      throw new AirgapError('DELTA_BASE_MISSING', `${path} is left out of delta ${bundle.file}: it is in its base ${named.name} ${named.digest}`, {
        hint: 'pass --base with the base bundle (its file, first part or folder), or apply the base first',
      });
    }
    throw invalid(`${path} is not in the bundle`);
  }
  const { entry, dataOffset } = location;
  // An empty range cannot be asked of createReadStream (start must be <= end).
  const raw = readRange(bundle.files, dataOffset, dataOffset + entry.size - 1);
  const checked = verifyingStream(entry);
  raw.on('error', (err: Error) => checked.destroy(err));
  return raw.pipe(checked);
}

/** Bytes start..end (inclusive) of the bundle, across its parts; not checked (the caller hashes them). */
export function readBundleRange(bundle: VerifiedBundle, start: number, end: number): Readable {
  return readRange(bundle.files, start, end);
}

export async function readEntry(bundle: VerifiedBundle, path: string): Promise<Buffer> {
  return readAll(openEntry(bundle, path));
}

async function readAll(stream: AsyncIterable<Buffer | Uint8Array>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks);
}

/**
 * The manifest without checking the signature or payload: for `inspect`, which must say so.
 * Reads only the first entry.
 */
export async function readManifestUnverified(file: string): Promise<BundleManifest> {
  const files = await bundleFiles(file);
  const input = readRange(files, 0, Math.min(files.size, MAX_MANIFEST_BYTES + 4 * BLOCK) - 1);
  try {
    const first = await takeSmallEntry(new BlockReader(input), MANIFEST_PATH, MAX_MANIFEST_BYTES, 'this is not an airgap bundle');
    return parseManifest(first.data);
  } finally {
    input.destroy();
  }
}
