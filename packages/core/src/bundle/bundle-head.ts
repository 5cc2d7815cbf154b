import { createHash } from 'node:crypto';
import { writeFileAtomic } from '../util/atomic-write.ts';
import { asIoError } from '../util/io-error.ts';
import { BlockReader } from './block-reader.ts';
import { bundleFiles, readRange, type BundleFiles } from './bundle-parts.ts';
import type { PublicKey } from './keys.ts';
import { MANIFEST_PATH, SIGNATURE_PATH, type BundleManifest } from './manifest.ts';
import { expectZeros, headSize, invalid, MAX_MANIFEST_BYTES, parseManifest, takeSmallEntry, verifySignedHead } from './read-bundle.ts';
import { BLOCK, paddedSize } from './tar-layout.ts';

/**
 * A bundle's signed head: its first two tar entries (manifest and signature) exactly as in the
 * bundle, then the end-of-archive marker. A few KiB that a team can keep in git, name as the base
 * of a delta, and check on its own with the public key (`bundler verify`, or tar and openssl).
 */
export interface VerifiedHead {
  kind: 'head';
  file: string;
  manifest: BundleManifest;
  /** sha256 of the manifest bytes: the same digest as the bundle it came from. */
  digest: string;
  signer: PublicKey;
}

export interface WrittenHead {
  out: string;
  size: number;
  manifest: BundleManifest;
  digest: string;
}

function reader(files: BundleFiles): { reader: BlockReader; close: () => void } {
  const input = readRange(files, 0, Math.min(files.size, MAX_MANIFEST_BYTES + 4 * BLOCK) - 1);
  return { reader: new BlockReader(input), close: () => void input.destroy() };
}

/** Write the head of `bundle` (a file, its first part or the folder of its parts) to `out`. Reads only the head. */
export async function writeHead(o: { bundle: string; out: string }): Promise<WrittenHead> {
  const r = reader(await bundleFiles(o.bundle));
  try {
    const first = await takeSmallEntry(r.reader, MANIFEST_PATH, MAX_MANIFEST_BYTES, 'this is not an airgap bundle');
    const second = await takeSmallEntry(r.reader, SIGNATURE_PATH, 64);
    const manifest = parseManifest(first.data);
    const pad = (n: number) => Buffer.alloc(paddedSize(n) - n);
    const bytes = Buffer.concat([
      first.header,
      first.data,
      pad(first.data.length),
      second.header,
      second.data,
      pad(second.data.length),
      Buffer.alloc(2 * BLOCK),
    ]);
    await writeFileAtomic(o.out, bytes).catch((err: unknown) => {
      throw asIoError(err, 'write head', o.out);
    });
    return { out: o.out, size: bytes.length, manifest, digest: createHash('sha256').update(first.data).digest('hex') };
  } finally {
    r.close();
  }
}

/** True when `file` is a head (manifest, signature, end marker and nothing else), judged from its size; nothing is verified. */
export async function isHeadFile(file: string): Promise<boolean> {
  const files = await bundleFiles(file);
  if (files.split || files.size > MAX_MANIFEST_BYTES + 4 * BLOCK) return false;
  const r = reader(files);
  try {
    const first = await takeSmallEntry(r.reader, MANIFEST_PATH, MAX_MANIFEST_BYTES).catch(() => undefined);
    return first !== undefined && files.size === headSize(first.data.length);
  } finally {
    r.close();
  }
}

/** Check a head on its own: the signature against `keys`, both tar headers, the end marker, nothing after. */
export async function verifyHead(file: string, keys: readonly PublicKey[]): Promise<VerifiedHead> {
  const files = await bundleFiles(file);
  const r = reader(files);
  try {
    const { manifest, first, signer } = await verifySignedHead(r.reader, file, keys);
    if (files.size !== headSize(first.data.length)) throw invalid(`${file} is ${files.size} bytes, not a bundle head (${headSize(first.data.length)} bytes)`);
    await expectZeros(r.reader, 2 * BLOCK, 'end-of-archive marker');
    if (!(await r.reader.atEnd())) throw invalid(`${file} has data after its end-of-archive marker`);
    return { kind: 'head', file, manifest, digest: createHash('sha256').update(first.data).digest('hex'), signer };
  } finally {
    r.close();
  }
}
