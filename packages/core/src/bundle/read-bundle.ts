import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { Transform, type Readable } from 'node:stream';
import tar from 'tar-stream';
import { AirgapError } from '../errors.ts';
import { findSigner, type PublicKey } from './keys.ts';
import { MANIFEST_PATH, SIGNATURE_PATH, type BundleManifest, type ManifestEntry } from './manifest.ts';
import { tarLayout, type EntryLocation } from './tar-layout.ts';
import { validateManifest } from './validate-manifest.ts';

/** A manifest of tens of thousands of blobs is a few MiB; anything larger is refused unread. */
const MAX_MANIFEST_BYTES = 64 * 1024 * 1024;

export interface VerifiedBundle {
  file: string;
  manifest: BundleManifest;
  /** sha256 of the manifest bytes: identifies the bundle (its signature covers everything). */
  digest: string;
  signer: PublicKey;
  locations: EntryLocation[];
  size: number;
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

const invalid = (message: string, hint = 'the bundle is damaged or was altered; copy it again from the source') =>
  new AirgapError('BUNDLE_INVALID', message, { hint });

/** Check the signature first, then every entry against the manifest, in one streaming pass. */
export async function verifyBundle(file: string, options: VerifyOptions): Promise<VerifiedBundle> {
  if (options.keys.length === 0) {
    throw new AirgapError('SIGNATURE_INVALID', 'no trusted public key given', { hint: 'pass --pub FILE, or put the signer\'s .pub in /etc/airgap/trusted.d/' });
  }
  const size = await stat(file).then((s) => s.size, (err: unknown) => {
    throw new AirgapError('BUNDLE_INVALID', `cannot read bundle ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { cause: err });
  });
  const extract = tar.extract();
  const input = createReadStream(file, { highWaterMark: 1024 * 1024 });
  input.on('error', (err) => extract.destroy(err));
  input.pipe(extract);

  let manifestBytes: Buffer | undefined;
  let manifest: BundleManifest | undefined;
  let signer: PublicKey | undefined;
  let locations: EntryLocation[] = [];
  let index = 0;
  try {
    for await (const stream of extract) {
      const h = stream.header;
      if (h.type !== 'file') throw invalid(`entry ${index} (${h.name}) is a ${h.type ?? 'unknown'}, only regular files are allowed`);
      if (index === 0) {
        if (h.name !== MANIFEST_PATH) throw invalid(`first entry is ${h.name}, expected ${MANIFEST_PATH}`, 'this is not an airgap bundle, or it was re-packed');
        if ((h.size ?? 0) > MAX_MANIFEST_BYTES) throw invalid(`manifest is ${h.size ?? 0} bytes, more than ${MAX_MANIFEST_BYTES}`);
        manifestBytes = await readAll(stream as AsyncIterable<Buffer>);
      } else if (index === 1) {
        if (h.name !== SIGNATURE_PATH || h.size !== 64) throw invalid(`second entry must be a 64-byte ${SIGNATURE_PATH}`);
        const signature = await readAll(stream as AsyncIterable<Buffer>);
        signer = findSigner(manifestBytes!, signature, options.keys);
        if (!signer) {
          throw new AirgapError('SIGNATURE_INVALID', `${file} is not signed by a trusted key (tried ${options.keys.map((k) => `${k.source} ${k.fingerprint}`).join(', ')})`, {
            hint: 'check that you have the right bundle and the .pub of the key that built it; do not apply a bundle you cannot verify',
          });
        }
        manifest = parseManifest(manifestBytes!);
        const layout = tarLayout(manifestBytes!.length, signature.length, manifest.entries);
        locations = layout.locations;
        if (layout.totalSize !== size) throw invalid(`${file} is ${size} bytes but its manifest describes ${layout.totalSize}`);
      } else {
        const entry = manifest!.entries[index - 2];
        if (!entry) throw invalid(`entry ${h.name} is not in the manifest`);
        if (h.name !== entry.path) throw invalid(`entry ${index} is ${h.name}, the manifest lists ${entry.path} there`);
        if (h.size !== entry.size) throw invalid(`${entry.path} is ${h.size ?? 0} bytes, the manifest says ${entry.size}`);
        const checked = stream.pipe(verifyingStream(entry));
        if (options.onEntry) await options.onEntry(entry, checked);
        else checked.resume();
        await new Promise<void>((resolve, reject) => {
          if (checked.readableEnded) resolve();
          checked.once('end', resolve);
          checked.once('error', reject);
        });
      }
      index++;
    }
  } finally {
    input.destroy();
  }
  if (!manifest || !signer || !manifestBytes) throw invalid(`${file} ends before its manifest and signature`);
  if (index - 2 !== manifest.entries.length) throw invalid(`${file} has ${index - 2} entries, the manifest lists ${manifest.entries.length}`);
  return { file, manifest, digest: createHash('sha256').update(manifestBytes).digest('hex'), signer, locations, size };
}

function parseManifest(bytes: Buffer): BundleManifest {
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
      if (size !== entry.size) return cb(new AirgapError('SIZE_MISMATCH', `${entry.path} is ${size} bytes, the manifest says ${entry.size}`, { hint: 'the bundle was altered or damaged' }));
      if (digest !== entry.sha256) return cb(new AirgapError('DIGEST_MISMATCH', `${entry.path} has sha256 ${digest}, the manifest says ${entry.sha256}`, { hint: 'the bundle was altered or damaged; copy it again' }));
      cb();
    },
  });
}

/** Read one entry of a verified bundle by offset, checking its digest again as it streams. */
export function openEntry(bundle: VerifiedBundle, path: string): Readable {
  const location = bundle.locations.find((l) => l.entry.path === path);
  if (!location) throw invalid(`${path} is not in the bundle`);
  const { entry, dataOffset } = location;
  const raw = entry.size === 0 ? createReadStream(bundle.file, { start: 1, end: 0 }) : createReadStream(bundle.file, { start: dataOffset, end: dataOffset + entry.size - 1, highWaterMark: 1024 * 1024 });
  const checked = verifyingStream(entry);
  raw.on('error', (err) => checked.destroy(err));
  return raw.pipe(checked);
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
  const extract = tar.extract();
  const input = createReadStream(file, { end: MAX_MANIFEST_BYTES + 1024 });
  input.on('error', (err) => extract.destroy(err));
  input.pipe(extract);
  try {
    for await (const stream of extract) {
      if (stream.header.name !== MANIFEST_PATH || stream.header.type !== 'file') throw invalid(`${file} is not an airgap bundle (first entry is ${stream.header.name})`);
      return parseManifest(await readAll(stream as AsyncIterable<Buffer>));
    }
  } finally {
    input.destroy();
  }
  throw invalid(`${file} is empty`);
}
