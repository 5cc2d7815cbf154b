// Image pulls from a local registry: ours (all images at once, six blobs in flight) against
// `skopeo copy --all docker://… oci:…`, image after image, as a user would script it.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import path from 'node:path';
import { bundleScript } from './bundle-script.ts';
import { makeImage, tarLayer } from '../test/support/oci-images.ts';
import { pushLayout, startRegistry } from '../test/support/registry.ts';
import { measure, measureShell, type Measurement } from './measure.ts';

export interface PullBenchOptions {
  dir: string;
  /** Total layer bytes over all images (both platforms). */
  bytes: number;
  best: (label: string, fn: () => Promise<Measurement>) => Promise<Measurement>;
}

const IMAGES = 4;
const LAYERS = 8;

export async function benchPull(o: PullBenchOptions): Promise<{ ours: Measurement; baseline: Measurement; blobs: number }> {
  const driver = path.join(o.dir, 'pull-driver.mjs');
  // The bench runs bundled from dist/scripts with the repository root as its working folder.
  await bundleScript('bench/pull-driver.ts', driver);
  const reg = await startRegistry();
  try {
    const layout = path.join(o.dir, 'layout');
    // Every image: two layers shared with the others (a common base), six of its own; two platforms.
    const perLayer = Math.floor(o.bytes / (2 * (IMAGES * (LAYERS - 2) + 2)));
    const shared = [await tarLayer({ 'base/a.bin': randomBytes(perLayer) }), await tarLayer({ 'base/b.bin': randomBytes(perLayer) })];
    const refs: string[] = [];
    let blobs = 0;
    for (let i = 0; i < IMAGES; i++) {
      const made = await makeImage({
        layoutDir: layout,
        tag: `img${i}`,
        platforms: ['linux/amd64', 'linux/arm64'],
        sharedLayers: shared,
        layerSizes: Array.from({ length: LAYERS - 2 }, () => perLayer),
      });
      blobs += made.blobs.length;
      await pushLayout(reg, layout, `img${i}`, `bench/img${i}:1`);
      refs.push(`${reg.host}/bench/img${i}:1`);
    }
    const ours = await o.best('pull (ours)', async () => {
      const cache = await mkdtemp(path.join(o.dir, 'cache-'));
      try {
        return await measure('node', [driver, cache, 'linux/amd64,linux/arm64', reg.url, ...refs]);
      } finally {
        await rm(cache, { recursive: true, force: true });
      }
    });
    const baseline = await o.best('skopeo copy --all', async () => {
      const dest = await mkdtemp(path.join(o.dir, 'skopeo-'));
      try {
        const copies = refs.map((r, i) => `skopeo copy --all --quiet --src-tls-verify=false docker://${r} oci:${dest}/oci:img${i}`).join(' && ');
        return await measureShell(copies);
      } finally {
        await rm(dest, { recursive: true, force: true });
      }
    });
    return { ours, baseline, blobs };
  } finally {
    await reg.stop();
  }
}
