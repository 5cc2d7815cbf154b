import { copyFile, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { makeHubImage, type HubImage } from '../mirror/hub-image.ts';
import { cli } from '../support/cli.ts';
import { pushLayout, startRegistry, type TestRegistry } from '../support/registry.ts';
import { site } from '../support/site-fixture.ts';
import { startSquid, type TestSquid } from '../support/squid.ts';
import { testdir } from '../support/tmpdir.ts';

/** The site fixture's spec with one image from `registry` (named so in the ref), reached at `endpoint` with the test CA. */
async function proxiedSite(reg: TestRegistry, registry: string): Promise<string> {
  const dir = await site();
  await copyFile(reg.certs!.caFile, path.join(dir, 'certs', 'registry-ca.crt'));
  const spec = (await readFile(path.join(dir, 'airgap.yaml'), 'utf8'))
    .replace('images: {k8sFeatures: false}', `images: {k8sFeatures: false, platforms: [linux/amd64], refs: [${registry}/library/app:1.0]}`)
    .replace(
      '  snapsDir: ./downloads',
      `  snapsDir: ./downloads\n  registries: {"${registry}": {endpoint: "https://${registry}", ca: ./certs/registry-ca.crt}}`,
    );
  await writeFile(path.join(dir, 'airgap.yaml'), spec);
  return dir;
}

/** Only the proxy under test: no proxy or NO_PROXY from the environment of whoever runs the tests. */
const through = (proxy: string) => ({ HTTPS_PROXY: proxy, HTTP_PROXY: proxy, https_proxy: proxy, http_proxy: proxy, NO_PROXY: '', no_proxy: '' });

const build = (dir: string, env: Record<string, string>) =>
  cli('bundler', ['build', 'airgap.yaml', '-o', 'bundle.tar', '--key', 'keys/site.key', '--no-applier', '--cache-dir', path.join(dir, 'cache')], {
    cwd: dir,
    env,
  });

describe('bundler build through a real squid configured from `bundler allowlist` only', () => {
  let reg: TestRegistry;
  let squid: TestSquid;
  let app: HubImage;
  beforeAll(async () => {
    reg = await startRegistry({ tls: true });
    const layout = await testdir();
    app = await makeHubImage({ layoutDir: layout, tag: 'app', platforms: ['linux/amd64', 'linux/arm64'] });
    await pushLayout(reg, layout, 'app', 'library/app:1.0');
    // testdir folders go after each test: each test makes its own site from the same spec.
    const allow = await cli('bundler', ['allowlist', 'airgap.yaml', '--format', 'squid'], { cwd: await proxiedSite(reg, reg.host) });
    expect(allow.exitCode).toBe(0);
    squid = await startSquid(allow.stdout);
  }, 120_000);
  afterAll(async () => {
    await squid?.stop();
    await reg?.stop();
  });

  it('the build passes through it: the registry over a CONNECT tunnel, its CA checked end to end', async () => {
    const dir = await proxiedSite(reg, reg.host);
    const b = await build(dir, through(squid.url));
    expect(b.stderr).not.toContain('error[');
    expect(b.exitCode).toBe(0);
    const lock = parse(await readFile(path.join(dir, 'airgap.lock.yaml'), 'utf8')) as { images: { ref: string; digest: string }[] };
    expect(lock.images).toEqual([{ ref: `${reg.host}/library/app:1.0`, digest: app.digest }]);
    const tunnels = (await squid.access((all) => all.some((a) => a.method === 'CONNECT'))).filter((a) => a.method === 'CONNECT');
    expect(tunnels.length).toBeGreaterThan(0);
    expect(tunnels.every((a) => a.result === 'TCP_TUNNEL/200' && a.url === reg.host)).toBe(true);
    // The bundle holds the amd64 manifest and its layers, fetched through the tunnel.
    const { stdout: listing } = await execa('tar', ['-tf', 'bundle.tar'], { cwd: dir });
    expect(listing).toContain(`images/blobs/sha256/${app.manifests['linux/amd64']!.slice(7)}`);
  });

  it('a registry host it does not allow fails at once, naming the proxy, its 403 and the host; no retry', async () => {
    // The same registry under a name the allowlist does not hold (its certificate covers localhost).
    const other = `localhost:${reg.host.split(':')[1]}`;
    const dir = await proxiedSite(reg, other);
    const before = (await squid.access()).length;
    const b = await build(dir, through(squid.url));
    expect(b.exitCode).toBe(1);
    expect(b.stderr).toContain('error[REGISTRY_FAILED]');
    expect(b.stderr).toContain(`the proxy ${squid.host} refused CONNECT ${other} with HTTP 403; allow it there (bundler allowlist)`);
    expect(b.stderr).toContain(`${other}/library/app:1.0`);
    expect(b.stderr).not.toContain('UND_ERR');
    expect(b.stderr).not.toMatch(/retry/i);
    // One refused CONNECT: the proxy's answer is not retried.
    expect((await squid.access((all) => all.length > before)).slice(before)).toEqual([{ result: 'TCP_DENIED/403', method: 'CONNECT', url: other }]);
  });
});

describe('a squid that wants proxy authentication (HTTP 407)', () => {
  let reg: TestRegistry;
  let squid: TestSquid;
  const password = `pw-${Math.random().toString(36).slice(2)}`;
  beforeAll(async () => {
    reg = await startRegistry({ tls: true });
    const layout = await testdir();
    await makeHubImage({ layoutDir: layout, tag: 'app', platforms: ['linux/amd64', 'linux/arm64'] });
    await pushLayout(reg, layout, 'app', 'library/app:1.0');
    // testdir folders go after each test: the site for the allowlist is made again in each test.
    const allow = await cli('bundler', ['allowlist', 'airgap.yaml', '--format', 'squid'], { cwd: await proxiedSite(reg, reg.host) });
    squid = await startSquid(allow.stdout, { basicAuth: { user: 'builder', password } });
  }, 120_000);
  afterAll(async () => {
    await squid?.stop();
    await reg?.stop();
  });

  it('without credentials: says the proxy wants authentication, for which host, and does not retry', async () => {
    const b = await build(await proxiedSite(reg, reg.host), through(squid.url));
    expect(b.exitCode).toBe(1);
    expect(b.stderr).toContain(`the proxy ${squid.host} wants authentication for CONNECT ${reg.host} (HTTP 407)`);
    expect(b.stderr).toContain('HTTPS_PROXY=http://USER:PASSWORD@proxy:3128');
    expect((await squid.access((all) => all.length > 0)).map((a) => a.result)).toEqual(['TCP_DENIED/407']);
  });

  it('with the credentials in the proxy URL: the build passes, and the error never names them', async () => {
    const b = await build(await proxiedSite(reg, reg.host), through(`http://builder:${password}@${squid.host}`));
    expect(b.stderr).not.toContain(password);
    expect(b.exitCode).toBe(0);
    const tunneled = (all: { result: string; url: string }[]) => all.some((a) => a.result === 'TCP_TUNNEL/200' && a.url === reg.host);
    expect(tunneled(await squid.access(tunneled))).toBe(true);
  });
});
