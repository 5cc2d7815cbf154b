import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRegistryClient, loadPublicKey, verifyBundle, type RetryPolicy } from '@airgap/core';
import { pullImages } from '../../packages/bundler/src/oci/pull-images.ts';
import { pushImages } from '../../packages/applier/src/push/push-images.ts';
import { planPush } from '../../packages/applier/src/push/push-plan.ts';
import { startFaultProxy, type FaultProxy, type ProxiedRequest } from '../support/fault-proxy.ts';
import { makeBundle } from '../support/bundle-fixture.ts';
import { startRegistry, type TestRegistry } from '../support/registry.ts';
import { pushTestImages } from '../support/push-test-images.ts';
import { testdir } from '../support/tmpdir.ts';

// Backoff alone would wait under 2 ms: a gap of a second between the 429 and the next try is the
// registry's Retry-After, honoured (maxDelayMs leaves room for it).
const retry: RetryPolicy = { retries: 2, baseDelayMs: 1, maxDelayMs: 5000 };

/** The gap (ms) between the request that got `fault` and the next one to the same URL, from the proxy's log. */
function gapAfterFault(log: readonly ProxiedRequest[], fault: ProxiedRequest['fault']): number {
  const i = log.findIndex((r) => r.fault === fault);
  expect(i, `a request got ${fault}`).toBeGreaterThanOrEqual(0);
  const hit = log[i]!;
  const next = log.slice(i + 1).find((r) => r.method === hit.method && r.url === hit.url);
  expect(next, `${hit.method} ${hit.url} was tried again`).toBeDefined();
  return next!.at - hit.at;
}

describe('one registry transport: Retry-After and upload sessions against a real registry', () => {
  let reg: TestRegistry;
  let proxy: FaultProxy;
  beforeAll(async () => {
    reg = await startRegistry();
    await pushTestImages(reg, { 'library/retry:1': { platforms: ['linux/amd64'], layerSizes: [20_000] } });
    proxy = await startFaultProxy(reg.url);
  }, 60_000);
  afterAll(async () => {
    await proxy?.stop();
    await reg?.stop();
  });

  it('pull: a 429 with Retry-After: 1 is tried again after a second, not at once', async () => {
    proxy.setRules([{ match: /\/manifests\//, fault: 'status429', times: 1, retryAfter: '1' }]);
    proxy.log.length = 0;
    const cacheDir = await testdir();
    const result = await pullImages({
      refs: [`${proxy.host}/library/retry:1`],
      platforms: ['linux/amd64'],
      registries: { [proxy.host]: { endpoint: proxy.url, plainHttp: true } },
      specDir: cacheDir,
      cacheDir,
      retry,
    });
    expect(result.images).toHaveLength(1);
    expect(gapAfterFault(proxy.log, 'status429')).toBeGreaterThanOrEqual(950);
  });

  const pushFixture = async () => {
    const dir = await testdir();
    // 8 KiB of noise: the layer goes up in several 1 KiB PATCH chunks.
    const fixture = await makeBundle({ dir, images: [{ ref: 'docker.io/team/app:1', files: { 'noise.bin': randomBytes(4096).toString('hex') } }] });
    const bundle = await verifyBundle(fixture.file, { keys: [await loadPublicKey(fixture.pubFile)] });
    return { bundle, plans: await planPush(bundle, `run-${randomBytes(4).toString('hex')}/`) };
  };
  const push = async (f: Awaited<ReturnType<typeof pushFixture>>) => {
    const client = createRegistryClient({ endpoint: { registry: proxy.host, url: proxy.url }, retry });
    const events: string[] = [];
    try {
      return {
        summary: await pushImages({ client, bundle: f.bundle, plans: f.plans, chunkSize: 1024, concurrency: 1, onEvent: (e) => events.push(e.type) }),
        events,
      };
    } finally {
      await client.close();
    }
  };

  it('push: the same policy, a 429 with Retry-After: 1 waits a second', async () => {
    const f = await pushFixture();
    proxy.setRules([{ match: /\/manifests\//, fault: 'status429', times: 1, retryAfter: '1' }]);
    proxy.log.length = 0;
    const { summary } = await push(f);
    expect(summary.failed).toEqual([]);
    expect(summary.images).toBe(1);
    expect(gapAfterFault(proxy.log, 'status429')).toBeGreaterThanOrEqual(950);
  });

  it('push: a PATCH chunk the registry keeps refusing restarts the upload with a new POST, and the blob still goes up', async () => {
    const f = await pushFixture();
    // The chunk PATCHes go to the session URL (`?_state=`), the closing PUT adds `digest=`: fault the
    // first PATCH and every retry the client makes of it, so that session is spent.
    proxy.setRules([{ match: /\/blobs\/uploads\/[^?]+\?(?!.*digest=).*_state=/, fault: 'status500', times: retry.retries + 1 }]);
    proxy.log.length = 0;
    const { summary, events } = await push(f);
    expect(summary.failed).toEqual([]);
    expect(summary.blobsUploaded).toBeGreaterThan(0);
    expect(events).toContain('retry');
    const uploads = proxy.log.filter((r) => r.url.includes('/blobs/uploads/'));
    const lastFault = uploads.map((r) => r.fault).lastIndexOf('status500');
    expect(lastFault).toBeGreaterThanOrEqual(0);
    expect(
      uploads
        .slice(0, lastFault + 1)
        .filter((r) => r.fault)
        .map((r) => r.method),
    ).toEqual(Array(retry.retries + 1).fill('PATCH'));
    // The session those PATCHes belonged to is given up: the next upload request opens a new one.
    expect(uploads[lastFault + 1]?.method).toBe('POST');
  });
});
