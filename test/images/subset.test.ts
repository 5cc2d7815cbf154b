import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BundleSource } from '@airgap/core';
import { pullImages, type PullImagesOptions } from '../../packages/bundler/src/oci/pull-images.ts';
import type { MadeImage } from '../support/oci-images.ts';
import { startRegistry, type TestRegistry } from '../support/registry.ts';
import { pushTestImages } from '../support/push-test-images.ts';
import { testdir } from '../support/tmpdir.ts';

const bytesOf = (sources: BundleSource[], digest: string) => {
  const s = sources.find((x) => x.path === `images/blobs/sha256/${digest.slice(7)}`);
  return s && 'data' in s ? Buffer.from(s.data).toString() : undefined;
};
const carried = (sources: BundleSource[], digest: string) => sources.some((x) => x.path === `images/blobs/sha256/${digest.slice(7)}`);

describe('subset index: which children a bundle carries of a BuildKit index with attestations', () => {
  let reg: TestRegistry;
  let att: MadeImage;
  let single: MadeImage;
  let upstream: { schemaVersion: number; mediaType: string; annotations: Record<string, string>; manifests: { digest: string }[] };
  beforeAll(async () => {
    reg = await startRegistry();
    ({ 'library/att:1': att, 'library/single:1': single } = await pushTestImages(reg, {
      'library/att:1': {
        platforms: ['linux/amd64', 'linux/arm64'],
        attestations: true,
        zstd: true,
        indexAnnotations: { 'org.opencontainers.image.source': 'https://example.com/att' },
      },
      'library/single:1': { platforms: ['linux/arm64'] },
    }));
  }, 60_000);
  afterAll(async () => reg?.stop());

  const pull = async (extra: Partial<PullImagesOptions>) => {
    const dir = await testdir();
    const r = await pullImages({
      refs: [`${reg.host}/library/att:1`],
      platforms: ['linux/amd64'],
      registries: { [reg.host]: { endpoint: reg.url, plainHttp: true } },
      specDir: dir,
      cacheDir: dir,
      ...extra,
    });
    upstream = JSON.parse(bytesOf(r.sources, att.digest)!) as typeof upstream;
    return r;
  };

  it('one platform, attestations kept: the platform manifest and its attestation, in upstream order, all else as upstream', async () => {
    const r = await pull({});
    const image = r.images[0]!;
    const subset = JSON.parse(bytesOf(r.sources, image.subset!.digest)!) as typeof upstream;
    expect(subset.manifests.map((m) => m.digest)).toEqual([att.manifests['linux/amd64'], att.attestations['linux/amd64']]);
    expect(subset.manifests).toEqual([upstream.manifests[0], upstream.manifests[2]]);
    expect({ ...subset, manifests: [] }).toEqual({ ...upstream, manifests: [] });
    expect(image.subset!.platforms).toEqual(['linux/amd64']);
    // The attestation's in-toto layer is carried; nothing of arm64 is.
    expect(carried(r.sources, att.attestations['linux/amd64']!)).toBe(true);
    expect(carried(r.sources, att.manifests['linux/arm64']!)).toBe(false);
    expect(carried(r.sources, att.attestations['linux/arm64']!)).toBe(false);
  });

  it('attestations dropped: the platform manifest alone', async () => {
    const r = await pull({ attestations: false });
    const subset = JSON.parse(bytesOf(r.sources, r.images[0]!.subset!.digest)!) as typeof upstream;
    expect(subset.manifests.map((m) => m.digest)).toEqual([att.manifests['linux/amd64']]);
    expect(carried(r.sources, att.attestations['linux/amd64']!)).toBe(false);
  });

  it('platforms [all] with attestations: the index is exact, no subset; dropped: every platform, no attestation', async () => {
    const all = await pull({ platforms: ['all'] });
    expect(all.images[0]!.subset).toBeUndefined();
    for (const d of upstream.manifests) expect(carried(all.sources, d.digest)).toBe(true);
    const dropped = await pull({ platforms: ['all'], attestations: false });
    expect(JSON.parse(bytesOf(dropped.sources, dropped.images[0]!.subset!.digest)!)).toMatchObject({
      manifests: [upstream.manifests[0], upstream.manifests[1]],
    });
    expect(dropped.images[0]!.subset!.platforms).toEqual(['linux/amd64', 'linux/arm64']);
  });

  it('a per-image override picks its own platforms; [all] takes a single-platform image of any platform', async () => {
    const r = await pull({
      refs: [`${reg.host}/library/att:1`, `${reg.host}/library/single:1`],
      platformsFor: new Map([
        [`${reg.host}/library/att:1`, ['linux/arm64']],
        [`${reg.host}/library/single:1`, ['all']],
      ]),
    });
    expect(r.images[0]!.subset!.platforms).toEqual(['linux/arm64']);
    expect(carried(r.sources, att.manifests['linux/arm64']!)).toBe(true);
    expect(carried(r.sources, att.manifests['linux/amd64']!)).toBe(false);
    expect(r.images[1]).toMatchObject({ digest: single.digest });
    expect(r.names.map((n) => [n.name, n.tagged])).toEqual([
      [`${reg.host}/library/att:1`, true],
      [`${reg.host}/library/att@${att.digest}`, false],
      [`${reg.host}/library/single:1`, true],
      [`${reg.host}/library/single@${single.digest}`, false],
    ]);
  });
});
