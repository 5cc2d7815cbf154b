import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { pullImages } from '../../packages/bundler/src/oci/pull-images.ts';
import { makeImage } from '../support/oci-images.ts';
import { startRegistry, type TestRegistry } from '../support/registry.ts';
import { testdir } from '../support/tmpdir.ts';

describe('Docker schema 2 manifest lists and manifests', () => {
  let reg: TestRegistry;
  beforeAll(async () => {
    reg = await startRegistry();
    const layout = await testdir();
    await makeImage({ layoutDir: layout, tag: 'd', platforms: ['linux/amd64', 'linux/arm64'], layerSizes: [10_000], gzip: true });
    // skopeo converts to Docker schema 2 on the way in, as images pushed by docker are stored.
    await execa('skopeo', [
      'copy',
      '--all',
      '--quiet',
      '--format',
      'v2s2',
      '--dest-tls-verify=false',
      `oci:${layout}:d`,
      `docker://${reg.host}/library/dockerish:1`,
    ]);
  }, 60_000);
  afterAll(async () => reg?.stop());

  it('pulls a manifest list with its bytes and digest as served, and the wanted platform', async () => {
    const { stdout: raw } = await execa('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${reg.host}/library/dockerish:1`]);
    const doc = JSON.parse(raw) as { mediaType: string; manifests: { digest: string; platform: { architecture: string } }[] };
    expect(doc.mediaType).toBe('application/vnd.docker.distribution.manifest.list.v2+json');
    const dir = await testdir();
    const r = await pullImages({
      refs: [`${reg.host}/library/dockerish:1`],
      platforms: ['linux/arm64'],
      registries: { [reg.host]: { endpoint: reg.url, plainHttp: true } },
      specDir: dir,
      cacheDir: dir,
    });
    expect(r.images[0]).toMatchObject({ digest: `sha256:${createHash('sha256').update(raw).digest('hex')}`, mediaType: doc.mediaType });
    const arm = doc.manifests.find((m) => m.platform.architecture === 'arm64')!.digest;
    const amd = doc.manifests.find((m) => m.platform.architecture === 'amd64')!.digest;
    expect([...r.images[0]!.manifests.keys()]).toContain(arm);
    expect([...r.images[0]!.manifests.keys()]).not.toContain(amd);
    const child = JSON.parse(r.images[0]!.manifests.get(arm)!.toString()) as { mediaType: string };
    expect(child.mediaType).toBe('application/vnd.docker.distribution.manifest.v2+json');
  });
});
