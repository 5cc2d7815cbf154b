import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadPublicKey, readEntry, verifyBundle, type BundleManifest } from '@airgap/core';
import type { PushEvent } from '../../packages/applier/src/push/push-events.ts';
import { makeNode } from '../applier/node-env.ts';
import { cli } from '../support/cli.ts';
import { startContainerd, type TestContainerd } from '../support/containerd.ts';
import { makeImage, tarLayer, type MadeImage } from '../support/oci-images.ts';
import { pushLayout, startRegistry, type TestRegistry } from '../support/registry.ts';
import { site } from '../support/site-fixture.ts';
import { testdir } from '../support/tmpdir.ts';

type Done = Extract<PushEvent, { type: 'done' }>;
const events = (stdout: string) =>
  stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as PushEvent);
const done = (stdout: string) => events(stdout).find((e): e is Done => e.type === 'done')!;
const writes = (log: { method: string }[]) => log.filter((r) => r.method === 'PUT' || r.method === 'POST' || r.method === 'PATCH');

/**
 * Images shaped like Docker Hub's (BuildKit indexes with attestation manifests, zstd layers) built
 * into a bundle by the real bundler, pushed by `applier push` into Debian's docker-registry 2.8
 * (which refuses an index whose children are missing), then pulled per platform by a real
 * containerd through the hosts.toml the bundler rendered for that mirror.
 */
describe('applier push to a strict registry (docker-registry 2.8): multi-platform indexes with attestations', () => {
  let src: TestRegistry;
  let mirror: TestRegistry;
  let ctd: TestContainerd;
  let duo: MadeImage;
  let trio: MadeImage;
  let pick: MadeImage;
  let pinned: MadeImage;
  let dir: string;
  let manifest: BundleManifest;
  const ref = (name: string) => `${src.host}/library/${name}`;

  beforeAll(async () => {
    [src, mirror, ctd] = await Promise.all([startRegistry(), startRegistry(), startContainerd()]);
    const layout = await testdir();
    const base = await tarLayer({ 'etc/os-release': 'ID=airgap-test\n' });
    const shape = { attestations: true, sharedLayers: [base], layerSizes: [40_000] };
    // Carried whole: two platforms and their attestations, the index exact.
    duo = await makeImage({
      layoutDir: layout,
      tag: 'duo',
      platforms: ['linux/amd64', 'linux/arm64'],
      zstd: true,
      indexAnnotations: { 'org.opencontainers.image.created': '2025-01-01T00:00:00Z' },
      ...shape,
    });
    // Two of three platforms carried.
    trio = await makeImage({ layoutDir: layout, tag: 'trio', platforms: ['linux/amd64', 'linux/arm64', 'linux/ppc64le'], zstd: true, ...shape });
    // A single-platform pick of a two-platform index (images.refs[] {ref, platforms}).
    pick = await makeImage({ layoutDir: layout, tag: 'pick', platforms: ['linux/amd64', 'linux/arm64'], gzip: true, ...shape });
    // Referenced by digest only: a strict registry cannot hold it at all.
    pinned = await makeImage({ layoutDir: layout, tag: 'pinned', platforms: ['linux/amd64', 'linux/arm64', 'linux/s390x'], gzip: true, ...shape });
    for (const [tag, dest] of [
      ['duo', 'library/duo:1'],
      ['trio', 'library/trio:2'],
      ['pick', 'library/pick:3'],
      ['pinned', 'library/pinned:4'],
    ])
      await pushLayout(src, layout, tag!, dest!);

    // The site outlives each test (testdir removes its folders after every test).
    dir = await mkdtemp(path.join(tmpdir(), 'airgap-strict-'));
    await cp(await site(), dir, { recursive: true });
    const spec = (await readFile(path.join(dir, 'airgap.yaml'), 'utf8'))
      .replace(
        'images: {k8sFeatures: false}',
        [
          'images:',
          '  k8sFeatures: false',
          '  platforms: [linux/amd64, linux/arm64]',
          '  refs:',
          `    - ${ref('duo:1')}`,
          `    - ${ref('trio:2')}`,
          `    - {ref: ${ref('pick:3')}, platforms: [linux/amd64]}`,
          `    - ${ref(`pinned@${pinned.digest}`)}`,
        ].join('\n'),
      )
      .replace('  mirrors:\n', `  mirrors:\n    - registries: ["${src.host}"]\n      endpoint: http://${mirror.host}\n`)
      .replace('  snapsDir: ./downloads', `  snapsDir: ./downloads\n  registries: {"${src.host}": {endpoint: "${src.url}", plainHttp: true}}`);
    await writeFile(path.join(dir, 'airgap.yaml'), spec);
    const b = await cli(
      'bundler',
      ['build', 'airgap.yaml', '-o', 'bundle.tar', '--key', 'keys/site.key', '--no-applier', '--cache-dir', path.join(dir, 'cache')],
      { cwd: dir },
    );
    expect(b.stderr).not.toContain('error');
    expect(b.exitCode).toBe(0);
    manifest = (await verifyBundle(path.join(dir, 'bundle.tar'), { keys: [await loadPublicKey(path.join(dir, 'keys/site.pub'))] })).manifest;
  }, 240_000);
  afterAll(async () => {
    await ctd?.stop();
    await mirror?.stop();
    await src?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('the bundle records a subset index for each tagged partial index, children in upstream order with their attestations', async () => {
    const byRef = new Map(manifest.images.map((i) => [i.ref, i]));
    expect(byRef.get(ref('duo:1'))).toEqual({ ref: ref('duo:1'), digest: duo.digest, mediaType: duo.mediaType });
    expect(byRef.get(ref('trio:2'))?.subset?.platforms).toEqual(['linux/amd64', 'linux/arm64']);
    expect(byRef.get(ref('pick:3'))?.subset?.platforms).toEqual(['linux/amd64']);
    // A repo@sha256 name is the upstream index and nothing else.
    for (const i of manifest.images.filter((i) => i.ref.includes('@'))) expect(i.subset).toBeUndefined();
    const bundle = await verifyBundle(path.join(dir, 'bundle.tar'), { keys: [await loadPublicKey(path.join(dir, 'keys/site.pub'))] });
    const subset = JSON.parse((await readEntry(bundle, `images/blobs/sha256/${byRef.get(ref('trio:2'))!.subset!.digest.slice(7)}`)).toString()) as {
      mediaType: string;
      schemaVersion: number;
      manifests: { digest: string }[];
    };
    expect(subset.mediaType).toBe('application/vnd.oci.image.index.v1+json');
    expect(subset.manifests.map((m) => m.digest)).toEqual([
      trio.manifests['linux/amd64'],
      trio.manifests['linux/arm64'],
      trio.attestations['linux/amd64'],
      trio.attestations['linux/arm64'],
    ]);
    // The lock holds each ref (string or {ref, platforms}) at its upstream digest; a frozen rebuild makes the same subsets.
    const lock = await readFile(path.join(dir, 'airgap.lock.yaml'), 'utf8');
    for (const [r, img] of [
      [ref('pick:3'), pick],
      [ref('trio:2'), trio],
    ] as const)
      expect(lock).toContain(`ref: ${r}\n    digest: ${img.digest}`);
    const frozen = await cli(
      'bundler',
      ['build', 'airgap.yaml', '-o', 'frozen.tar', '--key', 'keys/site.key', '--no-applier', '--cache-dir', path.join(dir, 'cache'), '--frozen'],
      { cwd: dir },
    );
    expect(frozen.exitCode).toBe(0);
    const again = (await verifyBundle(path.join(dir, 'frozen.tar'), { keys: [await loadPublicKey(path.join(dir, 'keys/site.pub'))] })).manifest;
    expect(again.images).toEqual(manifest.images);
  });

  it('push exits 0, the tags of partial indexes hold the subset, repo@sha256 names it cannot hold are reported; a second push writes nothing', async () => {
    const args = ['push', path.join(dir, 'bundle.tar'), '--pub', path.join(dir, 'keys/site.pub'), '--registry', mirror.host, '--plain-http'];
    const first = await cli('applier', [...args, '--json']);
    expect(first.stderr).toBe('');
    expect(first.exitCode).toBe(0);
    const s1 = done(first.stdout);
    const sub = (r: string) => manifest.images.find((i) => i.ref === r)!.subset!.digest;
    expect(s1.subsets).toEqual([
      { image: ref('pick:3'), index: pick.digest, subset: sub(ref('pick:3')) },
      { image: ref('trio:2'), index: trio.digest, subset: sub(ref('trio:2')) },
    ]);
    expect(s1.unheld.map((u) => u.image).sort()).toEqual([ref(`pick@${pick.digest}`), ref(`pinned@${pinned.digest}`), ref(`trio@${trio.digest}`)].sort());
    expect(s1.unheld.find((u) => u.image.includes('pinned'))!.hint).toContain(`pods that pin ${ref('pinned')}@${pinned.digest} will not find it`);
    expect(s1.failed).toEqual([]);
    expect(s1.bytesUploaded).toBeGreaterThan(0);
    const log1 = await mirror.requests();
    // The registry refused the two partial indexes by tag (it logs a line per missing child), then took
    // their subsets there; no manifest went under a digest, so none was refused as DIGEST_INVALID.
    const manifestPuts = log1.filter((r) => r.method === 'PUT' && r.uri.includes('/manifests/'));
    expect(new Set(manifestPuts.filter((r) => r.status >= 400).map((r) => `${r.uri} ${r.status}`))).toEqual(
      new Set(['/v2/library/pick/manifests/3 400', '/v2/library/trio/manifests/2 400']),
    );
    expect(
      manifestPuts
        .filter((r) => r.status === 201 && /manifests\/(2|3)$/.test(r.uri))
        .map((r) => r.uri)
        .sort(),
    ).toEqual(['/v2/library/pick/manifests/3', '/v2/library/trio/manifests/2']);

    const mark = log1.length;
    const second = await cli('applier', [...args, '--json']);
    expect(second.exitCode).toBe(0);
    expect(writes((await mirror.requests()).slice(mark))).toEqual([]);
    const s2 = done(second.stdout);
    expect(s2).toMatchObject({ blobsUploaded: 0, bytesUploaded: 0, manifestsPushed: 0, bytesSkipped: s1.bytesUploaded + s1.bytesSkipped });
    expect(s2.unheld).toHaveLength(3);

    const mark2 = (await mirror.requests()).length;
    const strict = await cli('applier', [...args, '--strict']);
    expect(strict.exitCode).toBe(1);
    expect(strict.stderr).toContain(`error[REGISTRY_FAILED]: --strict: ${mirror.host} cannot hold `);
    expect(strict.stdout).toMatch(/sent 0 B, skipped [\d.]+ KiB/);
    expect(strict.stdout).toContain(`  not held: ${ref(`pinned@${pinned.digest}`)}: pods that pin`);
    expect(writes((await mirror.requests()).slice(mark2))).toEqual([]);
    console.log(
      `strict push: first ${log1.length} requests (${s1.bytesUploaded} bytes sent), second ${(await mirror.requests()).length - mark} requests, 0 writes`,
    );
  });

  it('a real containerd pulls every carried platform by tag from the mirror through the bundle hosts.toml, with the upstream registry down', async () => {
    await execa('tar', ['-xf', 'bundle.tar', 'containerd'], { cwd: dir });
    const hostsDir = path.join(dir, 'containerd/hosts.d');
    expect(await readFile(path.join(hostsDir, src.host, 'hosts.toml'), 'utf8')).toContain(`[host."http://${mirror.host}"]`);
    await src.stop();
    const sub = (r: string) => manifest.images.find((i) => i.ref === r)!.subset!.digest;
    const cases: [string, string, string, string][] = [
      [ref('duo:1'), 'linux/amd64', duo.digest, duo.manifests['linux/amd64']!],
      [ref('duo:1'), 'linux/arm64', duo.digest, duo.manifests['linux/arm64']!],
      [ref('trio:2'), 'linux/amd64', sub(ref('trio:2')), trio.manifests['linux/amd64']!],
      [ref('trio:2'), 'linux/arm64', sub(ref('trio:2')), trio.manifests['linux/arm64']!],
      [ref('pick:3'), 'linux/amd64', sub(ref('pick:3')), pick.manifests['linux/amd64']!],
      // An exact index is held under its upstream digest too.
      [ref(`duo@${duo.digest}`), 'linux/arm64', duo.digest, duo.manifests['linux/arm64']!],
    ];
    for (const [image, platform, top, platformManifest] of cases) {
      const ns = `pull-${platform.replace('/', '-')}`;
      const ctr = (...a: string[]) => execa('ctr', ['--address', ctd.address, '--namespace', ns, ...a]);
      await ctr('images', 'pull', '--platform', platform, '--hosts-dir', hostsDir, image);
      const line = (await ctr('images', 'ls')).stdout.split('\n').find((l) => l.startsWith(`${image} `));
      expect(line, `${image} ${platform}`).toContain(top);
      // The platform's manifest and its zstd/gzip layers are in containerd's store, unpacked.
      const m = JSON.parse((await ctr('content', 'get', platformManifest)).stdout) as { layers: { digest: string; mediaType: string }[] };
      expect(m.layers.at(-1)!.mediaType).toBe(
        image.includes('pick') ? 'application/vnd.oci.image.layer.v1.tar+gzip' : 'application/vnd.oci.image.layer.v1.tar+zstd',
      );
      for (const l of m.layers) await ctr('content', 'get', l.digest).then((r) => expect(r.stdout.length).toBeGreaterThan(0));
    }
  });

  it("the applier's images step imports the bundle (subset indexes and all) into a real containerd, listed by tag with the upstream digests", async () => {
    const node = await makeNode();
    const r = await node.applier([
      'apply',
      path.join(dir, 'bundle.tar'),
      '--pub',
      path.join(dir, 'keys/site.pub'),
      '--ctr',
      'ctr',
      '--containerd-address',
      ctd.address,
    ]);
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
    const { stdout } = await execa('ctr', ['--address', ctd.address, '--namespace', 'k8s.io', 'images', 'ls']);
    const names = new Map(
      stdout
        .split('\n')
        .slice(1)
        .map((l) => l.trim().split(/\s+/))
        .map((c) => [c[0]!, c[2]!]),
    );
    expect(names.get(ref('trio:2'))).toBe(trio.digest);
    expect(names.get(ref('pick:3'))).toBe(pick.digest);
    expect(names.get(ref('duo:1'))).toBe(duo.digest);
    expect(names.get(ref(`trio@${trio.digest}`))).toBe(trio.digest);
    expect(names.get(ref(`pinned@${pinned.digest}`))).toBe(pinned.digest);
  });
});
