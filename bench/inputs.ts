import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { makeSnap } from '../test/support/snap-fixture.ts';
import { pushLayout, type TestRegistry } from '../test/support/registry.ts';
import { makeImages, type SyntheticImages } from './synthetic-images.ts';

export interface BenchInputs {
  dir: string;
  spec: string;
  key: string;
  pub: string;
  /** The local snaps folder (sources.snapsDir). */
  snapsDir: string;
  images: SyntheticImages;
  /** Full references as the spec names them, pulled from the local registry. */
  refs: string[];
  /** sources.registries of the spec. */
  registries: Record<string, { endpoint: string; plainHttp: boolean }>;
}

/** Where the snaps' bytes go; the rest is images. Real bundles are mostly images too. */
const SNAPS: [name: string, share: number, options: Omit<Parameters<typeof makeSnap>[0], 'dir' | 'name'>][] = [
  ['k8s', 0.18, { revision: 1, base: 'core22', confinement: 'classic' }],
  ['core22', 0.08, { revision: 2, type: 'base' }],
  ['snapd', 0.04, { revision: 3, type: 'snapd' }],
];
const IMAGE_SHARE = 1 - SNAPS.reduce((n, [, share]) => n + share, 0);
/** The name the spec gives the registry; sources.registries points it at the local one. */
const REGISTRY = 'registry.bench.test';

/**
 * Synthetic inputs of about `bytes` in `dir`: uncompressed random snaps with assertions, images
 * pushed to `registry`, a spec that takes the snaps from the folder and the images from the
 * registry, and a signing key made with `bundler`.
 */
export async function makeInputs(o: { dir: string; bytes: number; registry: TestRegistry; bundler: string }): Promise<BenchInputs> {
  const { dir, bytes, registry } = o;
  const snapsDir = path.join(dir, 'downloads');
  await mkdir(snapsDir, { recursive: true });
  for (const [name, share, options] of SNAPS) {
    const payload = path.join(dir, `${name}.bin`);
    await execa('bash', ['-c', `head -c ${Math.round(bytes * share)} /dev/urandom > ${payload}`]);
    await makeSnap({ dir: snapsDir, name, ...options, payloadFile: payload, compression: 'none' });
    await rm(payload);
  }
  const images = await makeImages(dir, Math.round(bytes * IMAGE_SHARE));
  for (const tag of images.tags) await pushLayout(registry, images.layout, tag, `bench/${tag}:v1`);
  // The registry holds them now: the layout's blobs would only double the disk used.
  await rm(images.layout, { recursive: true, force: true });
  const refs = images.tags.map((t) => `${REGISTRY}/bench/${t}:v1`);
  const registries = { [REGISTRY]: { endpoint: registry.url, plainHttp: true } };
  const spec = path.join(dir, 'airgap.yaml');
  await writeFile(
    spec,
    [
      'apiVersion: airgap/v1alpha1',
      'kind: Bundle',
      'metadata: {name: bench}',
      'k8s: {channel: 1.34-classic/stable}',
      `sources: {snapsDir: ./downloads, registries: ${JSON.stringify(registries)}}`,
      `images: {k8sFeatures: false, refs: ${JSON.stringify(refs)}}`,
      '',
    ].join('\n'),
  );
  const key = path.join(dir, 'key');
  await execa(process.execPath, [o.bundler, 'keygen', '--out', key]);
  return { dir, spec, key: `${key}.key`, pub: `${key}.pub`, snapsDir, images, refs, registries };
}
