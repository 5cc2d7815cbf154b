import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pullImages } from '../../packages/bundler/src/oci/pull-images.ts';
import type { MadeImage } from '../support/oci-images.ts';
import { startRegistry, type TestRegistry } from '../support/registry.ts';
import { pushTestImages } from '../support/push-test-images.ts';
import { startStaticServer, type StaticServer } from '../support/static-server.ts';
import { testdir } from '../support/tmpdir.ts';

describe('blob downloads redirected to a storage host (as Docker Hub sends them to its CDN)', () => {
  let reg: TestRegistry;
  let cdn: StaticServer;
  let storage: string;
  let image: MadeImage;
  beforeAll(async () => {
    storage = await mkdtemp(path.join(tmpdir(), 'airgap-cdn-'));
    cdn = await startStaticServer(storage);
    reg = await startRegistry({ redirectBaseUrl: `${cdn.url}/`, storageDir: storage });
    ({ 'library/redirected:1': image } = await pushTestImages(reg, { 'library/redirected:1': { platforms: ['linux/amd64'], layerSizes: [100_000] } }));
  }, 60_000);
  afterAll(async () => {
    await reg?.stop();
    await cdn?.stop();
    await rm(storage, { recursive: true, force: true });
  });

  it('follows the redirect, checks the digests, and records the storage host for the allowlist', async () => {
    const dir = await testdir();
    const r = await pullImages({
      refs: [`${reg.host}/library/redirected:1`],
      platforms: ['linux/amd64'],
      registries: { [reg.host]: { endpoint: reg.url, plainHttp: true } },
      specDir: dir,
      cacheDir: dir,
    });
    expect(r.images[0]!.digest).toBe(image.digest);
    expect(r.fetched).toBe(image.blobs.length);
    // Every blob came from the storage host, none from the registry itself.
    expect(cdn.requests.filter((p) => p.endsWith('/data'))).toHaveLength(image.blobs.length);
    expect((await reg.requests()).filter((q) => q.method === 'GET' && q.uri.includes('/blobs/') && q.status === 200)).toEqual([]);
    expect(r.hosts).toEqual([cdn.host, reg.host].sort());
  });
});
