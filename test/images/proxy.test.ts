import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatAllowlist } from '../../packages/bundler/src/commands/allowlist.ts';
import { pullImages } from '../../packages/bundler/src/oci/pull-images.ts';
import { makeImage, type MadeImage } from '../support/oci-images.ts';
import { pushLayout, startRegistry, type TestRegistry } from '../support/registry.ts';
import { startSquid, type TestSquid } from '../support/squid.ts';
import { testdir } from '../support/tmpdir.ts';

const PROXY_VARS = ['HTTP_PROXY', 'HTTPS_PROXY', 'NO_PROXY', 'http_proxy', 'https_proxy', 'no_proxy'];

describe('pulls through a real squid from HTTPS_PROXY / HTTP_PROXY, bypassed by NO_PROXY', () => {
  let plain: TestRegistry;
  let tls: TestRegistry;
  let proxy: TestSquid;
  let image: MadeImage;
  const saved = Object.fromEntries(PROXY_VARS.map((k) => [k, process.env[k]]));
  beforeAll(async () => {
    [plain, tls] = await Promise.all([startRegistry(), startRegistry({ tls: true })]);
    // squid allows what the bundler's allowlist names for these two registries, nothing else.
    proxy = await startSquid(formatAllowlist({ hosts: [plain.host, tls.host], fromLock: true }, 'squid', 'proxy test'));
    const layout = await testdir();
    image = await makeImage({ layoutDir: layout, tag: 'p', platforms: ['linux/amd64'] });
    await pushLayout(plain, layout, 'p', 'library/proxied:1');
    await pushLayout(tls, layout, 'p', 'library/proxied:1');
  }, 60_000);
  afterAll(async () => {
    for (const k of PROXY_VARS) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
    await Promise.all([plain?.stop(), tls?.stop(), proxy?.stop()]);
  });

  const pull = async (reg: TestRegistry, env: Record<string, string>) => {
    for (const k of PROXY_VARS) delete process.env[k];
    Object.assign(process.env, env);
    const dir = await testdir();
    const from = (await proxy.access()).length;
    const r = await pullImages({
      refs: [`${reg.host}/library/proxied:1`],
      platforms: ['linux/amd64'],
      registries: { [reg.host]: reg.certs ? { endpoint: reg.url, plainHttp: false, ca: reg.certs.caFile } : { endpoint: reg.url, plainHttp: true } },
      specDir: dir,
      cacheDir: dir,
    });
    // A tunnel is logged when it closes: wait for one line when the registry was reached through squid.
    const tunneled = Object.keys(env).some((k) => k.endsWith('_PROXY')) && !env.NO_PROXY;
    const entries = await proxy.access((all) => !tunneled || all.length > from);
    return { digest: r.images[0]!.digest, seen: entries.slice(from).map((a) => `${a.method} ${a.url} ${a.result}`) };
  };

  it('sends plain-HTTP registry requests through HTTP_PROXY', async () => {
    const { digest, seen } = await pull(plain, { HTTP_PROXY: proxy.url });
    expect(digest).toBe(image.digest);
    expect(seen.length).toBeGreaterThan(0);
    // undici tunnels plain HTTP with CONNECT too (the allowlist's squid lines allow CONNECT to the ports).
    expect(seen).toContain(`CONNECT ${plain.host} TCP_TUNNEL/200`);
  });

  it('tunnels HTTPS through HTTPS_PROXY with CONNECT, the registry CA still checked end to end', async () => {
    const { digest, seen } = await pull(tls, { HTTPS_PROXY: proxy.url });
    expect(digest).toBe(image.digest);
    expect(seen).toContain(`CONNECT ${tls.host} TCP_TUNNEL/200`);
  });

  it('goes direct for hosts in NO_PROXY', async () => {
    const { digest, seen } = await pull(plain, { HTTP_PROXY: proxy.url, HTTPS_PROXY: proxy.url, NO_PROXY: '127.0.0.1' });
    expect(digest).toBe(image.digest);
    expect(seen).toEqual([]);
  });
});
