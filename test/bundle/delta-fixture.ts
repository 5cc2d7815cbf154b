import { createHash } from 'node:crypto';
import path from 'node:path';
import { loadPublicKey, verifyBundle } from '@airgap/core';
import { makeBundle, makeKeys, type BundleFixture, type FixtureImage } from '../support/bundle-fixture.ts';

/** Deterministic incompressible text of n bytes (hex), different per seed. */
function filler(seed: string, n: number): string {
  let out = '';
  for (let i = 0; out.length < n; i++) out += createHash('sha256').update(`${seed}/${i}`).digest('hex');
  return out.slice(0, n);
}

/** Six single-layer images of `layerBytes` each; the ones in `changed` get a new layer (so a new config and manifest too). */
export function sixImages(o: { changed?: number[]; layerBytes?: number } = {}): FixtureImage[] {
  return Array.from({ length: 6 }, (_, i) => appImage(i, o));
}

/** Image `app<i>`: the same bytes (layer, config, manifest) every time unless changed. */
export function appImage(i: number, o: { changed?: number[]; layerBytes?: number; ref?: string } = {}): FixtureImage {
  return {
    ref: o.ref ?? `registry.example/site/app${i}:1.0`,
    files: { [`app${i}/data`]: filler(`app${i}${o.changed?.includes(i) ? '-v2' : ''}`, o.layerBytes ?? 256 * 1024) },
  };
}

export interface DeltaPair {
  base: BundleFixture;
  delta: BundleFixture;
  /** Hex sha256 of the base manifest, as `bundler verify` prints it after `sha256:`. */
  baseDigest: string;
}

/**
 * A base bundle of six images (and the standard snaps), then a delta of the same six with image 5
 * changed, signed by the same key, sequence 1 then 2: what a site's weekly update looks like.
 */
export async function deltaPair(
  dir: string,
  o: { layerBytes?: number; hosts?: Record<string, string>; /** More images in the delta only. */ extra?: FixtureImage[] } = {},
): Promise<DeltaPair> {
  const keys = makeKeys();
  const common = { dir, keys, name: 'site', ...(o.hosts ? { hosts: o.hosts } : {}) };
  const base = await makeBundle({ ...common, out: 'base.tar', images: sixImages(o), sequence: 1 });
  const verified = await verifyBundle(base.file, { keys: [await loadPublicKey(base.pubFile)] });
  const delta = await makeBundle({
    ...common,
    out: 'delta.tar',
    images: [...sixImages({ ...o, changed: [5] }), ...(o.extra ?? [])],
    sequence: 2,
    createdAt: '2025-02-01T00:00:00.000Z',
    base: { manifest: verified.manifest, digest: verified.digest },
  });
  return { base, delta, baseDigest: verified.digest };
}

export const inDir = (p: BundleFixture, name: string) => path.join(path.dirname(p.file), name);
