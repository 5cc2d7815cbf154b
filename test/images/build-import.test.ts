import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { parse } from 'yaml';
import { makeNode } from '../applier/node-env.ts';
import { cli } from '../support/cli.ts';
import { ctr, ctrImages, startContainerd, type TestContainerd } from '../support/containerd.ts';
import { tarLayer, type MadeImage } from '../support/oci-images.ts';
import { startRegistry, type TestRegistry } from '../support/registry.ts';
import { pushTestImages } from '../support/push-test-images.ts';
import { site } from '../support/site-fixture.ts';
import { makeSnap } from '../support/snap-fixture.ts';

/** The site fixture's spec with images from the test registry. */
async function imageSite(reg: TestRegistry, refs: string[]): Promise<string> {
  const dir = await site();
  const spec = (await readFile(path.join(dir, 'airgap.yaml'), 'utf8'))
    .replace('images: {k8sFeatures: false}', `images: {k8sFeatures: false, platforms: [linux/amd64], refs: [${refs.join(', ')}]}`)
    .replace('  snapsDir: ./downloads', `  snapsDir: ./downloads\n  registries: {"${reg.host}": {endpoint: "${reg.url}", plainHttp: true}}`);
  await writeFile(path.join(dir, 'airgap.yaml'), spec);
  return dir;
}

describe('bundler build with images, imported by a real containerd', () => {
  let reg: TestRegistry;
  let ctd: TestContainerd;
  let app: MadeImage;
  let tool: MadeImage;
  beforeAll(async () => {
    [reg, ctd] = await Promise.all([startRegistry(), startContainerd()]);
    const base = await tarLayer({ 'etc/os-release': 'ID=airgap-test\n', 'bin/base': 'shared' });
    ({ 'library/app:1.0': app, 'tools/tool:2': tool } = await pushTestImages(reg, {
      'library/app:1.0': { platforms: ['linux/amd64', 'linux/arm64'], sharedLayers: [base], layerSizes: [100_000], gzip: true },
      'tools/tool:2': { platforms: ['linux/amd64'], sharedLayers: [base], layerSizes: [50_000], gzip: true },
    }));
  }, 120_000);
  afterAll(async () => {
    await ctd?.stop();
    await reg?.stop();
  });

  it('builds, locks, imports under the full names with the registry digests, and a warm frozen rebuild sends no request', async () => {
    const appRef = `${reg.host}/library/app:1.0`;
    const toolRef = `${reg.host}/tools/tool:2`;
    const dir = await imageSite(reg, [appRef, toolRef]);
    const cache = path.join(dir, 'cache');
    const b = await cli('bundler', ['build', 'airgap.yaml', '-o', 'bundle.tar', '--key', 'keys/site.key', '--no-applier', '--cache-dir', cache, '--json'], {
      cwd: dir,
    });
    expect(b.stderr).toBe('');
    expect(b.exitCode).toBe(0);
    const events = b.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { type: string; image?: string });
    expect(
      events
        .filter((e) => e.type === 'image-done')
        .map((e) => e.image)
        .sort(),
    ).toEqual([appRef, toolRef]);
    expect(events.at(-1)).toMatchObject({ type: 'result', lockChanged: true });

    const lock = parse(await readFile(path.join(dir, 'airgap.lock.yaml'), 'utf8')) as { images: { ref: string; digest: string }[]; hosts: string[] };
    expect(lock.images).toEqual([
      { ref: appRef, digest: app.digest },
      { ref: toolRef, digest: tool.digest },
    ]);
    expect(lock.hosts).toEqual([reg.host]);
    expect((await cli('bundler', ['verify', 'bundle.tar', '--pub', 'keys/site.pub'], { cwd: dir })).exitCode).toBe(0);

    // The shared base layer is one tar entry; the arm64 manifest is listed in the index but not carried.
    const { stdout: listing } = await execa('tar', ['-tf', 'bundle.tar'], { cwd: dir });
    const blobs = listing.split('\n').filter((l) => l.startsWith('images/blobs/sha256/'));
    expect(new Set(blobs).size).toBe(blobs.length);
    expect(blobs).toContain(`images/blobs/sha256/${app.manifests['linux/amd64']!.slice(7)}`);
    expect(blobs).not.toContain(`images/blobs/sha256/${app.manifests['linux/arm64']!.slice(7)}`);

    // A real `ctr images import` of the bundle's OCI layout, as a tar, into namespace k8s.io.
    await execa('tar', ['-xf', 'bundle.tar', 'images'], { cwd: dir });
    await execa('tar', ['-cf', path.join(dir, 'images.tar'), '-C', path.join(dir, 'images'), '.']);
    await ctr(ctd.address, 'images', 'import', '--platform', 'linux/amd64', path.join(dir, 'images.tar'));
    const names = new Map(Object.entries(await ctrImages(ctd.address, 'digest')));
    expect(names.get(appRef)).toBe(app.digest);
    expect(names.get(toolRef)).toBe(tool.digest);
    // By index digest too: the name CRI looks up for `image@sha256:…`.
    expect(names.get(`${reg.host}/library/app@${app.digest}`)).toBe(app.digest);
    const { stdout: check } = await ctr(ctd.address, 'images', 'check', `name==${appRef}`);
    expect(check).toMatch(/complete \(\d+\/\d+\)/);

    // A frozen rebuild with the warm cache pulls by the locked digests, all held: no request at all.
    const before = (await reg.requests()).length;
    const again = await cli(
      'bundler',
      ['build', 'airgap.yaml', '-o', 'bundle2.tar', '--key', 'keys/site.key', '--no-applier', '--cache-dir', cache, '--frozen'],
      { cwd: dir, env: { SOURCE_DATE_EPOCH: '1700000000' } },
    );
    expect(again.exitCode).toBe(0);
    expect((await reg.requests()).slice(before)).toEqual([]);
    expect(again.stderr).toContain(`pulled ${appRef}`);

    const allow = await cli('bundler', ['allowlist', 'airgap.yaml', '--format', 'plain'], { cwd: dir });
    expect(allow.stdout.trim().split('\n')).toEqual([reg.host]);
    const squid = await cli('bundler', ['allowlist', 'airgap.yaml'], { cwd: dir });
    expect(squid.stdout).toContain('acl airgap_dst dstdomain 127.0.0.1');
    expect(squid.stdout).toContain(`acl airgap_ports port ${reg.host.split(':')[1]}`);
  });

  it('applier apply imports the built bundle into containerd, and a re-run changes nothing', async () => {
    const appRef = `${reg.host}/library/app:1.0`;
    const dir = await imageSite(reg, [appRef]);
    const b = await cli(
      'bundler',
      ['build', 'airgap.yaml', '-o', 'bundle.tar', '--key', 'keys/site.key', '--no-applier', '--cache-dir', path.join(dir, 'cache')],
      { cwd: dir },
    );
    expect(b.exitCode).toBe(0);
    const node = await makeNode();
    const args = ['apply', path.join(dir, 'bundle.tar'), '--pub', path.join(dir, 'keys/site.pub'), '--ctr', 'ctr', '--containerd-address', ctd.address];
    const first = await node.applier(args);
    expect(first.stderr).toBe('');
    expect(first.exitCode).toBe(0);
    const names = new Map(Object.entries(await ctrImages(ctd.address, 'digest')));
    expect(names.get(appRef)).toBe(app.digest);
    expect(names.get(`${reg.host}/library/app@${app.digest}`)).toBe(app.digest);
    const second = await node.applier(args);
    expect(second.exitCode).toBe(0);
    expect(second.stdout).toMatch(/^ok +images +nothing to change/m);
  });

  it('bundler lock pins every image to its digest and downloads no layer', async () => {
    const appRef = `${reg.host}/library/app:1.0`;
    const dir = await imageSite(reg, [appRef]);
    const before = (await reg.requests()).length;
    const r = await cli('bundler', ['lock', 'airgap.yaml', '--cache-dir', path.join(dir, 'cache')], { cwd: dir });
    expect(r.exitCode).toBe(0);
    const lock = parse(await readFile(path.join(dir, 'airgap.lock.yaml'), 'utf8')) as { images: { ref: string; digest: string }[] };
    expect(lock.images).toEqual([{ ref: appRef, digest: app.digest }]);
    const asked = (await reg.requests()).slice(before);
    expect(asked.filter((q) => q.uri.includes('/manifests/')).length).toBeGreaterThan(0);
    expect(asked.filter((q) => q.uri.includes('/blobs/'))).toEqual([]);
  });

  it('adds the images the k8s snap lists in images.txt when images.k8sFeatures is true', async () => {
    const toolRef = `${reg.host}/tools/tool:2`;
    const appRef = `${reg.host}/library/app:1.0`;
    const dir = await imageSite(reg, [appRef]);
    await makeSnap({ dir: path.join(dir, 'downloads'), name: 'k8s', revision: 30, base: 'core20', confinement: 'classic', images: [toolRef, appRef] });
    await writeFile(path.join(dir, 'airgap.yaml'), (await readFile(path.join(dir, 'airgap.yaml'), 'utf8')).replace('k8sFeatures: false', 'k8sFeatures: true'));
    const b = await cli(
      'bundler',
      ['build', 'airgap.yaml', '-o', 'bundle.tar', '--key', 'keys/site.key', '--no-applier', '--cache-dir', path.join(dir, 'cache'), '--json'],
      { cwd: dir },
    );
    expect(b.exitCode).toBe(0);
    const result = JSON.parse(b.stdout.trim().split('\n').at(-1)!) as { images: { ref: string; digest: string }[] };
    expect(result.images.filter((i) => !i.ref.includes('@')).map((i) => [i.ref, i.digest])).toEqual([
      [appRef, app.digest],
      [toolRef, tool.digest],
    ]);
  });

  it('names the image, the registry and the fix when a tag does not exist; no bundle is left', async () => {
    const dir = await imageSite(reg, [`${reg.host}/library/app:nope`]);
    const b = await cli(
      'bundler',
      ['build', 'airgap.yaml', '-o', 'bundle.tar', '--key', 'keys/site.key', '--no-applier', '--cache-dir', path.join(dir, 'cache')],
      { cwd: dir },
    );
    expect(b.exitCode).toBe(2);
    expect(b.stderr).toContain(`${reg.host}/library/app:nope: ${reg.host} has no manifest nope (HTTP 404)`);
    expect(b.stderr).not.toMatch(/\n\s+at /);
    const { stdout } = await execa('ls', [dir]);
    expect(stdout.split('\n').filter((f) => f.includes('bundle'))).toEqual([]);
  });
});
