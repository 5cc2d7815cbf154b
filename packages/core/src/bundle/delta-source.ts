import { createHash } from 'node:crypto';
import { AirgapError } from '../errors.ts';
import { BlockReader } from './block-reader.ts';
import { bundleFiles, describeSizeMismatch, readRange } from './bundle-parts.ts';
import type { PublicKey } from './keys.ts';
import type { OmittedEntry } from './manifest.ts';
import { invalid, MAX_MANIFEST_BYTES, verifySignedHead, type VerifiedBundle } from './read-bundle.ts';
import { BLOCK, tarLayout } from './tar-layout.ts';

const mismatch = (message: string, hint: string) => new AirgapError('DELTA_BASE_MISMATCH', message, { hint });

/**
 * Open a delta's base bundle (a file, its first part or the folder of its parts) to read the
 * entries the delta leaves out: its signature is checked against `keys` and its size against its
 * manifest, as any bundle; each entry read from it is then checked against its sha256 as it
 * streams (openEntry), so the base is not read through once more here.
 */
export async function openBaseBundle(file: string, keys: readonly PublicKey[]): Promise<VerifiedBundle> {
  const files = await bundleFiles(file);
  const input = readRange(files, 0, Math.min(files.size, MAX_MANIFEST_BYTES + 4 * BLOCK) - 1);
  try {
    const { manifest, first, second, signer } = await verifySignedHead(new BlockReader(input), file, keys);
    const layout = tarLayout(first.data.length, second.data.length, manifest.entries);
    if (layout.totalSize !== files.size) throw invalid(describeSizeMismatch(files, file, layout.totalSize));
    return { file, files, manifest, digest: createHash('sha256').update(first.data).digest('hex'), signer, locations: layout.locations, size: files.size };
  } finally {
    input.destroy();
  }
}

/**
 * The delta with its base attached: every entry the delta leaves out is then read from the base
 * (openEntry falls through to it). Refused unless the base is the one the delta names and
 * carries each omitted entry with the same sha256 and size.
 */
export function withBase(delta: VerifiedBundle, base: VerifiedBundle): VerifiedBundle {
  const named = delta.manifest.base;
  if (!named) throw new AirgapError('USAGE', `--base ${base.file}: ${delta.file} is not a delta bundle`, { hint: 'pass --base only with a delta bundle' });
  if (`sha256:${base.digest}` !== named.digest) {
    throw mismatch(
      `${base.file} is bundle ${base.manifest.name} sha256:${base.digest}, but ${delta.file} is a delta of ${named.name} ${named.digest}`,
      `pass the base bundle ${named.name} whose \`bundler verify\` prints digest ${named.digest}`,
    );
  }
  const carried = new Map(base.locations.map((l) => [l.entry.path, l.entry]));
  for (const e of named.omitted) {
    const have = carried.get(e.path);
    if (!have || have.sha256 !== e.sha256 || have.size !== e.size) {
      throw mismatch(
        `base ${base.file} does not carry ${e.path} (sha256 ${e.sha256}) that delta ${delta.file} leaves out`,
        'rebuild the delta against this base',
      );
    }
  }
  return { ...delta, base };
}

/** Left out of the delta and not supplied by an attached base: what must already be on the node. */
export function omittedFromNode(bundle: VerifiedBundle): OmittedEntry[] {
  return bundle.base ? [] : (bundle.manifest.base?.omitted ?? []);
}
