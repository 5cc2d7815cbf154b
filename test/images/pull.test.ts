import { createHash } from 'node:crypto';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { isAirgapError } from '@airgap/core';
import { pullImages, type PullImagesOptions } from '../../packages/bundler/src/oci/pull-images.ts';
import { tarLayer, type MadeImage } from '../support/oci-images.ts';
import { startRegistry, type TestRegistry } from '../support/registry.ts';
import { pushTestImages } from '../support/push-test-images.ts';
import { testdir } from '../support/tmpdir.ts';

const sha256 = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

describe('pull from a plain-HTTP registry', () => {
  let reg: TestRegistry;
  let multi: MadeImage;
  let single: MadeImage;
  beforeAll(async () => {
    reg = await startRegistry();
    const base = await tarLayer({ 'etc/os-release': 'ID=test\n' });
    ({ 'library/app:1.0': multi, 'tools/single:2': single } = await pushTestImages(reg, {
      'library/app:1.0': { platforms: ['linux/amd64', 'linux/arm64'], layerSizes: [300_000, 5_000], sharedLayers: [base], gzip: true },
      'tools/single:2': { platforms: ['linux/amd64'], sharedLayers: [base] },
    }));
  }, 60_000);
  afterAll(async () => reg?.stop());

  const opts = (cacheDir: string, extra: Partial<PullImagesOptions> = {}): PullImagesOptions => ({
    refs: [`${reg.host}/library/app:1.0`, `${reg.host}/tools/single:2`],
    platforms: ['linux/amd64'],
    registries: { [reg.host]: { endpoint: reg.url, plainHttp: true } },
    specDir: cacheDir,
    cacheDir,
    ...extra,
  });

  it('keeps the index bytes as served, carries only the wanted platform, each blob once', async () => {
    const cacheDir = await testdir();
    const r = await pullImages(opts(cacheDir));
    expect(r.images.map((i) => [i.ref, i.digest])).toEqual([
      [`${reg.host}/library/app:1.0`, multi.digest],
      [`${reg.host}/tools/single:2`, single.digest],
    ]);
    const { stdout: raw } = await execa('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${reg.host}/library/app:1.0`]);
    const indexSource = r.sources.find((s) => s.path === `images/blobs/sha256/${multi.digest.slice(7)}`);
    expect(indexSource && 'data' in indexSource ? Buffer.from(indexSource.data).toString() : '').toBe(raw);
    const paths = r.sources.map((s) => s.path);
    expect(new Set(paths).size).toBe(paths.length);
    expect(paths).toContain(`images/blobs/sha256/${multi.manifests['linux/amd64']!.slice(7)}`);
    expect(paths).not.toContain(`images/blobs/sha256/${multi.manifests['linux/arm64']!.slice(7)}`);
    // The shared base layer is in both images and in the bundle once.
    for (const s of r.sources) {
      if (!s.path.startsWith('images/blobs/')) continue;
      const bytes = 'data' in s ? Buffer.from(s.data) : await readFile(s.file);
      expect(sha256(bytes)).toBe(`sha256:${path.basename(s.path)}`);
    }
    const index = JSON.parse(Buffer.from((r.sources.find((s) => s.path === 'images/index.json') as { data: Uint8Array }).data).toString()) as {
      manifests: { digest: string; annotations: Record<string, string> }[];
    };
    // The amd64 pick of the two-platform index also gets a subset index, listed without an image name.
    const subset = r.images[0]!.subset!;
    expect(subset.platforms).toEqual(['linux/amd64']);
    expect(index.manifests.filter((m) => !m.annotations['io.containerd.image.name'])).toEqual([
      { mediaType: 'application/vnd.oci.image.index.v1+json', digest: subset.digest, size: subset.size, annotations: { 'dev.airgap.subset-of': multi.digest } },
    ]);
    // Each tagged image also under repo@digest, so a pod asking for image@sha256:… resolves.
    expect(index.manifests.filter((m) => m.annotations['io.containerd.image.name']).map((m) => [m.annotations['io.containerd.image.name'], m.digest])).toEqual(
      [
        [`${reg.host}/library/app:1.0`, multi.digest],
        [`${reg.host}/library/app@${multi.digest}`, multi.digest],
        [`${reg.host}/tools/single:2`, single.digest],
        [`${reg.host}/tools/single@${single.digest}`, single.digest],
      ].sort((a, b) => (a[0]! < b[0]! ? -1 : 1)),
    );
    expect(r.fetched).toBeGreaterThan(0);
    expect(r.hosts).toEqual([reg.host]);
  });

  it('a rebuild with a warm cache makes no blob request', async () => {
    const cacheDir = await testdir();
    await pullImages(opts(cacheDir));
    const before = (await reg.requests()).length;
    const again = await pullImages(opts(cacheDir));
    const blobGets = (await reg.requests()).slice(before).filter((q) => q.uri.includes('/blobs/'));
    expect(blobGets).toEqual([]);
    expect(again.fetched).toBe(0);
    expect(again.cached).toBeGreaterThan(0);
  });

  it('pulls by the pinned digest when the tag has moved', async () => {
    const { 'library/moving:1': moved } = await pushTestImages(reg, { 'library/moving:1': { platforms: ['linux/amd64'] } });
    const cacheDir = await testdir();
    const first = await pullImages(opts(cacheDir, { refs: [`${reg.host}/library/moving:1`] }));
    const { 'library/moving:1': newer } = await pushTestImages(reg, { 'library/moving:1': { platforms: ['linux/amd64'] } });
    const pinned = await pullImages(
      opts(cacheDir, { refs: [`${reg.host}/library/moving:1`], pins: new Map([[`${reg.host}/library/moving:1`, first.images[0]!.digest]]) }),
    );
    expect(first.images[0]!.digest).toBe(moved.digest);
    expect(pinned.images[0]!.digest).toBe(moved.digest);
    const unpinned = await pullImages(opts(cacheDir, { refs: [`${reg.host}/library/moving:1`] }));
    expect(unpinned.images[0]!.digest).toBe(newer.digest);
  });

  it('resolve-only downloads no blob', async () => {
    const cacheDir = await testdir();
    const before = (await reg.requests()).length;
    const r = await pullImages(opts(cacheDir, { resolveOnly: true }));
    expect(r.images.map((i) => i.digest)).toEqual([multi.digest, single.digest]);
    expect((await reg.requests()).slice(before).filter((q) => q.uri.includes('/blobs/'))).toEqual([]);
    expect(r.sources).toEqual([]);
  });

  it.each([
    [
      'a platform the index lacks',
      { platforms: ['linux/s390x'] },
      'PLATFORM_NOT_FOUND',
      /library\/app:1\.0 has no linux\/s390x image \(it offers linux\/amd64, linux\/arm64\)/,
    ],
    [
      'a single-platform image for another platform',
      { refs: ['REG/tools/single:2'], platforms: ['linux/arm64'] },
      'PLATFORM_NOT_FOUND',
      /tools\/single:2 is a single linux\/amd64 image/,
    ],
    ['an unknown tag', { refs: ['REG/library/app:9.9'] }, 'IMAGE_NOT_FOUND', /library\/app:9\.9: .* has no manifest 9\.9 \(HTTP 404\)/],
    ['a tag-less reference', { refs: ['REG/library/app'] }, 'SPEC_INVALID', /has neither a tag nor a digest/],
  ] as const)('refuses %s with a clear error', async (_name, extra, code, message) => {
    const cacheDir = await testdir();
    const o = opts(cacheDir, { ...extra, ...('refs' in extra ? { refs: extra.refs.map((r) => r.replace('REG', reg.host)) } : {}) });
    const err: unknown = await pullImages(o).catch((e: unknown) => e);
    expect(isAirgapError(err, code)).toBe(true);
    expect((err as Error).message).toMatch(message);
    // Nothing half-downloaded is left in the cache under a final name.
    const names = await readdir(path.join(cacheDir, 'blobs', 'sha256')).catch(() => []);
    expect(names.filter((n) => n.includes('.tmp-'))).toEqual([]);
  });

  it('pulls docker.io names through a mirror in sources.registries, keeping the upstream name', async () => {
    const cacheDir = await testdir();
    const r = await pullImages(opts(cacheDir, { refs: ['docker.io/library/app:1.0'], registries: { 'docker.io': { endpoint: reg.url, plainHttp: true } } }));
    expect(r.images[0]).toMatchObject({ ref: 'docker.io/library/app:1.0', digest: multi.digest });
    expect(r.hosts).toEqual([reg.host]);
  });
});

describe('pull from a TLS registry with htpasswd', () => {
  let reg: TestRegistry;
  let image: MadeImage;
  beforeAll(async () => {
    reg = await startRegistry({ tls: true, auth: true });
    ({ 'private/app:1': image } = await pushTestImages(reg, { 'private/app:1': { platforms: ['linux/amd64', 'linux/arm64'] } }));
  }, 60_000);
  afterAll(async () => reg?.stop());

  const run = async (authFile: string | undefined, ca = true) => {
    const dir = await testdir();
    return pullImages({
      refs: [`${reg.host}/private/app:1`],
      platforms: ['linux/arm64'],
      registries: { [reg.host]: { endpoint: reg.url, plainHttp: false, ...(ca ? { ca: reg.certs!.caFile } : {}) } },
      specDir: dir,
      cacheDir: dir,
      authFiles: authFile ? [authFile] : [path.join(dir, 'none.json')],
    });
  };
  const authFile = async (user: string, password: string) => {
    const dir = await testdir();
    const file = path.join(dir, 'auth.json');
    await writeFile(file, JSON.stringify({ auths: { [reg.host]: { auth: Buffer.from(`${user}:${password}`).toString('base64') } } }));
    return file;
  };

  it('pulls with the credentials from an auth file and the registry CA', async () => {
    const r = await run(await authFile(reg.user!.name, reg.user!.password));
    expect(r.images[0]!.digest).toBe(image.digest);
    expect(r.fetched).toBe(image.blobs.length / 2);
  });

  it('names the credential files it tried when it has none', async () => {
    const err: unknown = await run(undefined).catch((e: unknown) => e);
    expect(isAirgapError(err, 'REGISTRY_AUTH')).toBe(true);
    expect((err as { hint: string }).hint).toMatch(/no credentials for 127\.0\.0\.1:\d+ in .*none\.json/);
  });

  it('says when the credentials sit behind a docker credential helper, which it does not run', async () => {
    const dir = await testdir();
    const file = path.join(dir, 'config.json');
    await writeFile(file, JSON.stringify({ auths: { [reg.host]: {} }, credsStore: 'desktop' }));
    const err: unknown = await run(file).catch((e: unknown) => e);
    expect(isAirgapError(err, 'REGISTRY_AUTH')).toBe(true);
    expect((err as { hint: string }).hint).toContain(`${file} (credential helper docker-credential-desktop, not run by airgap`);
  });

  it('says which file held refused credentials, never the password', async () => {
    const file = await authFile(reg.user!.name, 'wrong-password-123');
    const err: unknown = await run(file).catch((e: unknown) => e);
    expect(isAirgapError(err, 'REGISTRY_AUTH')).toBe(true);
    const text = `${(err as Error).message} ${(err as { hint: string }).hint}`;
    expect(text).toContain(file);
    expect(text).not.toContain('wrong-password-123');
  });

  it('refuses the server without the CA, naming the setting that fixes it', async () => {
    const err: unknown = await run(await authFile(reg.user!.name, reg.user!.password), false).catch((e: unknown) => e);
    expect(isAirgapError(err, 'REGISTRY_FAILED')).toBe(true);
    expect((err as { hint: string }).hint).toMatch(/sources\.registries\..*\.ca/);
  });
});
