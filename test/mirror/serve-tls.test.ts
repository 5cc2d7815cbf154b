import { type ChildProcess } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadPublicKey, verifyBundle } from '@airgap/core';
import { bundleRegistry } from '../../packages/applier/src/serve/bundle-registry.ts';
import { serveBundle } from '../../packages/applier/src/serve/serve.ts';
import type { ServeLogEntry } from '../../packages/applier/src/serve/access-log.ts';
import { parseRange } from '../../packages/applier/src/serve/byte-range.ts';
import { tagsPage } from '../../packages/applier/src/serve/tags-list.ts';
import { renderHostsFiles } from '../../packages/bundler/src/containerd/render-hosts.ts';
import { makeBundle } from '../support/bundle-fixture.ts';
import { makeCerts, type TestCerts } from '../support/certs.ts';
import { cli } from '../support/cli.ts';
import { ctr as ctrAt, ctrImages, startContainerd, type TestContainerd } from '../support/containerd.ts';
import { makeImage } from '../support/oci-images.ts';
import { pushLayout, startRegistry } from '../support/registry.ts';
import { site } from '../support/site-fixture.ts';
import { testdir } from '../support/tmpdir.ts';
import { makeHubImage, type HubImage } from './hub-image.ts';

const applier = path.resolve(import.meta.dirname, '../../dist/applier.mjs');

describe('pure parts of serve: Range and tags/list pages', () => {
  it.each([
    [undefined, { kind: 'whole' }],
    ['bytes=0-9', { kind: 'partial', start: 0, end: 9 }],
    ['bytes=90-', { kind: 'partial', start: 90, end: 99 }],
    ['bytes=95-200', { kind: 'partial', start: 95, end: 99 }],
    ['bytes=-10', { kind: 'partial', start: 90, end: 99 }],
    ['bytes=-500', { kind: 'partial', start: 0, end: 99 }],
    ['bytes=100-', { kind: 'unsatisfiable' }],
    ['bytes=-0', { kind: 'unsatisfiable' }],
    ['bytes=0-1,5-6', { kind: 'whole' }],
    ['bytes=9-3', { kind: 'whole' }],
    ['items=0-9', { kind: 'whole' }],
    ['bytes=-', { kind: 'whole' }],
  ])('Range %s of 100 bytes', (header, want) => {
    expect(parseRange(header, 100)).toEqual(want);
  });

  it('pages tags lexically after `last`, n at a time, with the next `last` while more follow', () => {
    const tags = ['b', '1.10', 'a', '1.9', 'B'];
    expect(tagsPage(tags, undefined, undefined)).toEqual({ tags: ['1.10', '1.9', 'B', 'a', 'b'] });
    expect(tagsPage(tags, 2, undefined)).toEqual({ tags: ['1.10', '1.9'], next: '1.9' });
    expect(tagsPage(tags, 2, '1.9')).toEqual({ tags: ['B', 'a'], next: 'a' });
    expect(tagsPage(tags, 2, 'a')).toEqual({ tags: ['b'] });
    expect(tagsPage(tags, 3, 'a')).toEqual({ tags: ['b'] });
    expect(tagsPage(tags, 0, undefined)).toEqual({ tags: [] });
    expect(tagsPage(tags, undefined, 'zzz')).toEqual({ tags: [] });
  });
});

describe('applier serve --tls-cert/--tls-key: a mirror a real containerd pulls from with the CA from hosts.toml', () => {
  /** Lives for the whole describe (testdir folders go after each test). */
  let keep: string;
  let certs: TestCerts;
  let ctd: TestContainerd;
  let app: HubImage;
  let layout: string;
  let child: ResultPromise;
  let url: string;
  let ca: Agent;
  const logLines: string[] = [];

  beforeAll(async () => {
    // Built by the real bundler from a real registry: a Docker Hub-shaped index (two platforms and
    // their attestation manifests) picked for linux/amd64, under two tags, and a plain manifest.
    keep = await mkdtemp(path.join(tmpdir(), 'airgap-serve-tls-'));
    const reg = await startRegistry();
    layout = path.join(keep, 'layout');
    app = await makeHubImage({ layoutDir: layout, tag: 'app', platforms: ['linux/amd64', 'linux/arm64'] });
    await makeImage({ layoutDir: layout, tag: 'tool', platforms: ['linux/amd64'], gzip: true });
    await pushLayout(reg, layout, 'app', 'library/app:1.0');
    await pushLayout(reg, layout, 'app', 'library/app:1.1');
    await pushLayout(reg, layout, 'tool', 'tools/tool:2');
    const work = await site();
    const spec = (await readFile(path.join(work, 'airgap.yaml'), 'utf8'))
      .replace(
        'images: {k8sFeatures: false}',
        'images: {k8sFeatures: false, platforms: [linux/amd64], refs: [docker.io/library/app:1.0, docker.io/library/app:1.1, docker.io/tools/tool:2]}',
      )
      .replace('  snapsDir: ./downloads', `  snapsDir: ./downloads\n  registries: {docker.io: {endpoint: "${reg.url}", plainHttp: true}}`);
    await writeFile(path.join(work, 'airgap.yaml'), spec);
    const b = await cli(
      'bundler',
      ['build', 'airgap.yaml', '-o', 'bundle.tar', '--key', 'keys/site.key', '--no-applier', '--cache-dir', path.join(work, 'cache')],
      { cwd: work },
    );
    expect(b.stderr).not.toContain('error[');
    expect(b.exitCode).toBe(0);
    // From here on only the bundle answers: the registry it was built from is gone.
    await reg.stop();
    await copyFile(path.join(work, 'bundle.tar'), path.join(keep, 'bundle.tar'));
    await copyFile(path.join(work, 'keys/site.pub'), path.join(keep, 'site.pub'));

    certs = await makeCerts(path.join(keep, 'tls'));
    ca = new Agent({ connect: { ca: await readFile(certs.caFile) } });
    child = execa(
      process.execPath,
      [applier, 'serve', 'bundle.tar', '--pub', 'site.pub', '--listen', '127.0.0.1:0', '--tls-cert', certs.certFile, '--tls-key', certs.keyFile, '--json'],
      { cwd: keep, reject: false },
    );
    child.stderr?.on('data', (chunk: Buffer) =>
      logLines.push(
        ...chunk
          .toString()
          .split('\n')
          .filter((l) => l !== ''),
      ),
    );
    url = await new Promise<string>((resolve, reject) => {
      child.stdout?.on('data', (chunk: Buffer) => {
        const m = /at (https:\/\/127\.0\.0\.1:\d+)/.exec(chunk.toString());
        if (m?.[1]) resolve(m[1]);
      });
      void child.once('exit', () => reject(new Error('serve exited before listening')));
    });
    ctd = await startContainerd();
  }, 180_000);
  afterAll(async () => {
    (child as ChildProcess | undefined)?.kill('SIGTERM');
    await child?.catch(() => undefined);
    await ca?.close();
    await ctd?.stop();
    if (keep) await rm(keep, { recursive: true, force: true });
  });

  it('pulls by tag and by the upstream index digest through hosts.toml carrying the CA (fallback: false)', async () => {
    const hostsDir = path.join(keep, 'hosts.d');
    const caData = new Map([['./mirror-ca.crt', await readFile(certs.caFile)]]);
    for (const f of renderHostsFiles({
      mirrors: [
        {
          registries: ['docker.io'],
          endpoint: url,
          ca: './mirror-ca.crt',
          capabilities: ['pull', 'resolve'],
          skipVerify: false,
          overridePath: false,
          fallback: false,
        },
      ],
      hostsDir,
      caData,
    })) {
      await mkdir(path.dirname(path.join(hostsDir, f.target)), { recursive: true });
      await writeFile(path.join(hostsDir, f.target), f.data);
    }
    expect(await readFile(path.join(hostsDir, 'docker.io/hosts.toml'), 'utf8')).toContain(`ca = "${hostsDir}/docker.io/ca-127.0.0.1_`);
    const ctr = (...args: string[]) => ctrAt(ctd.address, ...args);
    const pinned = `docker.io/library/app@${app.digest}`;
    for (const ref of ['docker.io/library/app:1.0', 'docker.io/library/app:1.1', pinned, 'docker.io/tools/tool:2'])
      await ctr('images', 'pull', '--platform', 'linux/amd64', '--hosts-dir', hostsDir, ref);
    const names = new Map(Object.entries(await ctrImages(ctd.address, 'digest')));
    expect(names.get('docker.io/library/app:1.0')).toBe(app.digest);
    expect(names.get('docker.io/library/app:1.1')).toBe(app.digest);
    expect(names.get(pinned)).toBe(app.digest);
    const { stdout: check } = await ctr('images', 'check', 'name==docker.io/library/app:1.0');
    expect(check).toMatch(/complete \(\d+\/\d+\)/);
    // The pulls went to serve, over TLS, naming the upstream registry in `ns`.
    const entries = logLines.map((l) => JSON.parse(l) as ServeLogEntry);
    expect(entries).toContainEqual(
      expect.objectContaining({ method: 'HEAD', url: `/v2/library/app/manifests/${app.digest}?ns=docker.io`, status: 200, completed: true }),
    );
    expect(entries).toContainEqual(
      expect.objectContaining({ method: 'GET', url: `/v2/library/app/manifests/${app.manifests['linux/amd64']!}?ns=docker.io`, status: 200 }),
    );
  });

  it("serves the bundle's platform-subset index by its digest, whole: skopeo copy --all of it succeeds", async () => {
    const bundle = await verifyBundle(path.join(keep, 'bundle.tar'), { keys: [await loadPublicKey(path.join(keep, 'site.pub'))] });
    const image = bundle.manifest.images.find((i) => i.ref === 'docker.io/library/app:1.0')!;
    // Tags answer with the upstream index (the manifest's `digest`); the subset is there by digest.
    expect(image.digest).toBe(app.digest);
    const subset = image.subset!;
    expect(subset.platforms).toEqual(['linux/amd64']);
    const head = await request(`${url}/v2/library/app/manifests/${subset.digest}?ns=docker.io`, { method: 'HEAD', dispatcher: ca });
    expect(head.statusCode).toBe(200);
    expect(head.headers['docker-content-digest']).toBe(subset.digest);
    await head.body.dump();
    const out = await testdir();
    await execa('skopeo', [
      'copy',
      '--all',
      '--preserve-digests',
      '--src-cert-dir',
      path.dirname(certs.caFile),
      `docker://${url.replace('https://', '')}/library/app@${subset.digest}`,
      `oci:${out}:copied`,
    ]);
    const index = JSON.parse(await readFile(path.join(out, 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
    expect(index.manifests[0]?.digest).toBe(subset.digest);
  });

  it('skopeo list-tags lists the tags; n/last pages with a Link header as the distribution spec has it', async () => {
    const { stdout } = await execa('skopeo', ['list-tags', '--cert-dir', path.dirname(certs.caFile), `docker://${url.replace('https://', '')}/library/app`]);
    expect(JSON.parse(stdout)).toMatchObject({ Tags: ['1.0', '1.1'] });
    const page = async (q: string) => {
      const r = await request(`${url}/v2/library/app/tags/list${q}`, { dispatcher: ca });
      return { status: r.statusCode, link: r.headers.link, body: await r.body.json() };
    };
    expect(await page('?n=1')).toEqual({
      status: 200,
      link: '</v2/library/app/tags/list?n=1&last=1.0>; rel="next"',
      body: { name: 'library/app', tags: ['1.0'] },
    });
    expect(await page('?n=1&last=1.0')).toEqual({ status: 200, link: undefined, body: { name: 'library/app', tags: ['1.1'] } });
    expect(await page('?ns=docker.io')).toMatchObject({ status: 200, body: { tags: ['1.0', '1.1'] } });
    expect(await page('?n=x')).toMatchObject({ status: 400, body: { errors: [{ code: 'PAGINATION_NUMBER_INVALID' }] } });
    const none = await request(`${url}/v2/library/nope/tags/list`, { dispatcher: ca });
    expect(none.statusCode).toBe(404);
    expect(((await none.body.json()) as { errors: { code: string }[] }).errors[0]?.code).toBe('NAME_UNKNOWN');
  });

  it('a Range request gets 206 with the right bytes and Content-Range; past the end gets 416', async () => {
    const manifest = JSON.parse(await readFile(path.join(layout, 'blobs/sha256', app.manifests['linux/amd64']!.slice(7)), 'utf8')) as {
      layers: { digest: string; size: number }[];
    };
    const layer = manifest.layers.at(-1)!;
    const bytes = await readFile(path.join(layout, 'blobs/sha256', layer.digest.slice(7)));
    const blob = `${url}/v2/library/app/blobs/${layer.digest}`;
    const part = await request(blob, { dispatcher: ca, headers: { range: 'bytes=100-1099' } });
    expect(part.statusCode).toBe(206);
    expect(part.headers['content-range']).toBe(`bytes 100-1099/${layer.size}`);
    expect(part.headers['content-length']).toBe('1000');
    expect(Buffer.from(await part.body.arrayBuffer()).equals(bytes.subarray(100, 1100))).toBe(true);
    const tail = await request(blob, { dispatcher: ca, headers: { range: `bytes=${layer.size - 7}-` } });
    expect(tail.statusCode).toBe(206);
    expect(Buffer.from(await tail.body.arrayBuffer()).equals(bytes.subarray(layer.size - 7))).toBe(true);
    const past = await request(blob, { dispatcher: ca, headers: { range: `bytes=${layer.size}-` } });
    expect(past.statusCode).toBe(416);
    expect(past.headers['content-range']).toBe(`bytes */${layer.size}`);
    await past.body.dump();
    const whole = await request(blob, { dispatcher: ca });
    expect(whole.statusCode).toBe(200);
    expect(whole.headers['accept-ranges']).toBe('bytes');
    expect(Buffer.from(await whole.body.arrayBuffer()).equals(bytes)).toBe(true);
    // The access log has a JSON line for each, the partial one with its range.
    const entries = logLines.map((l) => JSON.parse(l) as ServeLogEntry);
    expect(entries).toContainEqual(
      expect.objectContaining({
        method: 'GET',
        url: `/v2/library/app/blobs/${layer.digest}`,
        status: 206,
        bytes: 1000,
        range: 'bytes=100-1099',
        completed: true,
      }),
    );
    expect(entries).toContainEqual(expect.objectContaining({ url: `/v2/library/app/blobs/${layer.digest}`, status: 416 }));
  });
});

describe('applier serve --max-connections', () => {
  it('turns away connections beyond the bound, and logs them', async () => {
    const fixture = await makeBundle({ dir: await testdir(), images: [{ ref: 'docker.io/library/hello:1.0', files: { 'a.txt': 'a' } }] });
    const bundle = await verifyBundle(fixture.file, { keys: [await loadPublicKey(fixture.pubFile)] });
    const log: ServeLogEntry[] = [];
    const server = await serveBundle({ registry: await bundleRegistry(bundle), host: '127.0.0.1', port: 0, maxConnections: 1, log: (e) => log.push(e) });
    const port = (server.address() as { port: number }).port;
    try {
      // The first connection is served and kept open (keep-alive)...
      const first = connect(port, '127.0.0.1');
      const answer = await new Promise<string>((resolve) => {
        first.once('data', (d: Buffer) => resolve(d.toString()));
        first.write('GET /v2/ HTTP/1.1\r\nHost: x\r\n\r\n');
      });
      expect(answer).toMatch(/^HTTP\/1\.1 200/);
      // ...so the second is closed without an answer.
      const second = connect(port, '127.0.0.1');
      const got = await new Promise<string>((resolve) => {
        let data = '';
        second.on('data', (d: Buffer) => (data += d.toString()));
        second.on('error', () => undefined);
        second.on('close', () => resolve(data));
        second.write('GET /v2/ HTTP/1.1\r\nHost: x\r\n\r\n');
      });
      expect(got).toBe('');
      first.destroy();
      expect(log).toContainEqual(expect.objectContaining({ dropped: 'max-connections', maxConnections: 1 }));
    } finally {
      await new Promise((r) => server.close(r));
    }
  });

  it('refuses a bad --max-connections and a certificate without its key (exit 2, before reading the bundle)', async () => {
    const dir = await testdir();
    await copyFile(path.join(import.meta.dirname, 'serve.test.ts'), path.join(dir, 'not-a-bundle.tar'));
    const r1 = await execa(process.execPath, [applier, 'serve', 'not-a-bundle.tar', '--max-connections', '0'], { cwd: dir, reject: false });
    expect(r1.exitCode).toBe(2);
    expect(r1.stderr).toContain('error[USAGE]: --max-connections 0');
    const r2 = await execa(process.execPath, [applier, 'serve', 'not-a-bundle.tar', '--tls-cert', 'x.crt'], { cwd: dir, reject: false });
    expect(r2.exitCode).toBe(2);
    expect(r2.stderr).toContain('error[USAGE]: --tls-cert and --tls-key go together');
  });
});
