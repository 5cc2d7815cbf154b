import { createHash } from 'node:crypto';
import { cp, mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { createRequire } from 'node:module';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSpec, type BundleManifest, type BundleSource } from '@airgap/core';
import { planBundle } from '../../packages/bundler/src/plan-bundle.ts';
import { buildSbom, SBOM_PATH } from '../../packages/bundler/src/sbom/build-sbom.ts';
import { filesOfSources } from '../../packages/bundler/src/sbom/sbom-files.ts';
import { makeBundle } from '../support/bundle-fixture.ts';
import { cli } from '../support/cli.ts';
import { makeImage, tarLayer, type MadeImage } from '../support/oci-images.ts';
import { pushLayout, startRegistry, type TestRegistry } from '../support/registry.ts';
import { site } from '../support/site-fixture.ts';
import { exists } from '../support/bundle-fixture.ts';
import { testdir } from '../support/tmpdir.ts';

// The library's validator, resolved from the bundler package (its ajv peers are the bundler's dev dependencies).
const cdx = createRequire(path.resolve(import.meta.dirname, '../../packages/bundler/package.json'))('@cyclonedx/cyclonedx-library') as {
  Validation: { JsonStrictValidator: new (version: string) => { validate(json: string): Promise<unknown> } };
};
const validate = (json: string) => new cdx.Validation.JsonStrictValidator('1.6').validate(json);

interface Component {
  type: string;
  name: string;
  version?: string;
  'bom-ref': string;
  publisher?: string;
  purl?: string;
  hashes?: { alg: string; content: string }[];
  properties?: { name: string; value: string }[];
  components?: Component[];
}
interface Sbom {
  specVersion: string;
  serialNumber: string;
  metadata: { timestamp: string; component: Component };
  components: Component[];
}

const EPOCH = { SOURCE_DATE_EPOCH: '1700000000' };
const hash = (c: Component, alg: string) => c.hashes?.find((h) => h.alg === alg)?.content;
const props = (c: Component, name: string) => (c.properties ?? []).filter((p) => p.name === name).map((p) => p.value);
const hex = (b64url: string) => Buffer.from(b64url, 'base64url').toString('hex');

describe('the bundle SBOM (CycloneDX 1.6)', () => {
  let reg: TestRegistry;
  let layout: string;
  let multi: MadeImage;
  let single: MadeImage;
  let dir: string;
  let manifest: BundleManifest;
  let entry: Buffer;
  beforeAll(async () => {
    reg = await startRegistry();
    // Own folders: testdir() and site() folders are removed after each test, these serve them all.
    layout = await mkdtemp(path.join(tmpdir(), 'airgap-sbom-layout-'));
    const base = await tarLayer({ 'etc/os-release': 'ID=airgap-test\n' });
    multi = await makeImage({
      layoutDir: layout,
      tag: 'multi',
      platforms: ['linux/amd64', 'linux/arm64'],
      sharedLayers: [base],
      attestations: true,
      zstd: true,
    });
    single = await makeImage({ layoutDir: layout, tag: 'single', platforms: ['linux/amd64'], sharedLayers: [base], gzip: true });
    await pushLayout(reg, layout, 'multi', 'library/multi:1.0');
    await pushLayout(reg, layout, 'single', 'tools/single:2');
    dir = await mkdtemp(path.join(tmpdir(), 'airgap-sbom-site-'));
    await cp(await site(), dir, { recursive: true });
    const spec = (await readFile(path.join(dir, 'airgap.yaml'), 'utf8'))
      .replace(
        'images: {k8sFeatures: false}',
        `images: {k8sFeatures: false, platforms: [linux/amd64, linux/arm64], refs: [${reg.host}/library/multi:1.0, ${reg.host}/tools/single:2]}`,
      )
      .replace('  snapsDir: ./downloads', `  snapsDir: ./downloads\n  registries: {"${reg.host}": {endpoint: "${reg.url}", plainHttp: true}}`);
    await writeFile(path.join(dir, 'airgap.yaml'), spec);
    const b = await cli('bundler', ['build', 'airgap.yaml', '-o', 'a.tar', '--key', 'keys/site.key', '--no-applier', '--cache-dir', 'cache'], {
      cwd: dir,
      env: EPOCH,
    });
    expect(b.stderr).not.toContain('error');
    expect(b.exitCode).toBe(0);
    manifest = JSON.parse((await execa('tar', ['-xOf', 'a.tar', 'airgap/manifest.json'], { cwd: dir })).stdout) as BundleManifest;
    entry = Buffer.from((await execa('tar', ['-xOf', 'a.tar', SBOM_PATH], { cwd: dir, encoding: 'buffer', stripFinalNewline: false })).stdout);
  }, 180_000);
  afterAll(async () => {
    await reg?.stop();
    for (const d of [layout, dir]) if (d) await rm(d, { recursive: true, force: true });
  });

  it('is an entry of the signed bundle, listed in the manifest and SHA256SUMS, and validates against the CycloneDX 1.6 schema', async () => {
    const listed = manifest.entries.find((e) => e.path === SBOM_PATH);
    expect(listed).toMatchObject({ size: entry.length, sha256: createHash('sha256').update(entry).digest('hex'), mode: 0o644 });
    const sums = (await execa('tar', ['-xOf', 'a.tar', 'airgap/SHA256SUMS'], { cwd: dir })).stdout;
    expect(sums).toContain(`${listed!.sha256}  ${SBOM_PATH}\n`);
    expect(await validate(entry.toString('utf8'))).toBeNull();
    const sbom = JSON.parse(entry.toString('utf8')) as Sbom;
    expect(sbom.specVersion).toBe('1.6');
    expect(sbom.serialNumber).toMatch(/^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    // createdAt is SOURCE_DATE_EPOCH; the root is the bundle: its name, its sequence as version.
    expect(sbom.metadata.timestamp).toBe('2023-11-14T22:13:20.000Z');
    expect(sbom.metadata.component).toMatchObject({ name: 'test-site', version: String(manifest.sequence), 'bom-ref': 'bundle' });
    expect(props(sbom.metadata.component, 'airgap:bundle:createdAt')).toEqual([manifest.createdAt]);
    expect(props(sbom.metadata.component, 'airgap:bundle:platform')).toEqual(['linux/amd64', 'linux/arm64']);
  });

  it('lists every snap with its revision, SHA3-384 as in the manifest and the publisher from its snap-declaration', () => {
    const sbom = JSON.parse(entry.toString('utf8')) as Sbom;
    expect(manifest.snaps.map((s) => s.name)).toEqual(['snapd', 'core20', 'k8s']);
    for (const s of manifest.snaps) {
      const c = sbom.components.find((x) => x.name === s.name && x.type === 'application');
      expect(c, s.name).toBeDefined();
      expect(c!.version).toBe(String(s.revision));
      expect(hash(c!, 'SHA3-384')).toBe(hex(s.sha3_384));
      expect(hash(c!, 'SHA3-384')).toHaveLength(96);
      expect(c!.publisher).toBe('canonical');
      expect(props(c!, 'airgap:snap:role')).toEqual([s.role]);
    }
  });

  it('lists every image by digest with its purl, platforms, platform manifests and every layer digest', async () => {
    const sbom = JSON.parse(entry.toString('utf8')) as Sbom;
    const images = sbom.components.filter((c) => c.type === 'container');
    // The repo@sha256: aliases in the layout are the same images: one component per image.
    expect(images.map((c) => props(c, 'airgap:oci:reference')[0]).sort()).toEqual([`${reg.host}/library/multi:1.0`, `${reg.host}/tools/single:2`]);
    for (const image of manifest.images.filter((i) => !i.ref.includes('@'))) {
      const c = images.find((x) => props(x, 'airgap:oci:reference')[0] === image.ref)!;
      expect(c.version).toBe(image.digest);
      expect(hash(c, 'SHA-256')).toBe(image.digest.slice(7));
      const name = image.ref.includes('multi') ? 'multi' : 'single';
      const repo = encodeURIComponent(`${reg.host}/${image.ref.includes('multi') ? 'library/multi' : 'tools/single'}`);
      expect(c.purl).toBe(`pkg:oci/${name}@${image.digest}?repository_url=${repo}&tag=${image.ref.split(':').at(-1)}`);
    }
    const m = images.find((c) => c.name === 'multi')!;
    expect(props(m, 'airgap:oci:platform').sort()).toEqual(['linux/amd64', 'linux/arm64']);
    for (const platform of ['linux/amd64', 'linux/arm64']) {
      const digest = multi.manifests[platform]!;
      const child = m.components!.find((x) => x.version === digest)!;
      expect(child, platform).toBeDefined();
      expect(props(child, 'airgap:oci:platform')).toEqual([platform]);
      expect(child.purl).toContain(`arch=${platform.split('/')[1]}`);
      const doc = JSON.parse(await readFile(path.join(layout, 'blobs/sha256', digest.slice(7)), 'utf8')) as {
        config: { digest: string };
        layers: { digest: string }[];
      };
      const listed = child.components!.map((x) => x.name).sort();
      expect(listed).toEqual([doc.config.digest, ...doc.layers.map((l) => l.digest)].sort());
      for (const layer of child.components!) expect(hash(layer, 'SHA-256')).toBe(layer.name.slice(7));
    }
    // BuildKit attestation manifests the bundle carries are listed as such, naming what they attest.
    for (const [platform, digest] of Object.entries(multi.attestations)) {
      const carried = manifest.entries.some((e) => e.path === `images/blobs/sha256/${digest.slice(7)}`);
      const child = m.components!.find((x) => x.version === digest);
      expect(child !== undefined, `${platform} attestation`).toBe(carried);
      if (child) expect(props(child, 'airgap:oci:attests')).toEqual([multi.manifests[platform]]);
    }
    // A single-platform image: its platform from its config, its layers right under it.
    const s = images.find((c) => c.name === 'single')!;
    expect(s.version).toBe(single.digest);
    expect(props(s, 'airgap:oci:platform')).toEqual(['linux/amd64']);
    expect(s.components!.map((x) => x.name).sort()).toEqual(single.blobs.map((b) => b.digest).sort());
    // The hosts files (and their CA files), with the path each takes on the node.
    const hosts = sbom.components.filter((c) => c.type === 'file').map((c) => `${c.name} -> ${props(c, 'airgap:target')[0] ?? ''}`);
    expect(hosts).toContain('containerd/hosts.d/docker.io/hosts.toml -> /etc/containerd/hosts.d/docker.io/hosts.toml');
    expect(hosts).toContain('config/bootstrap.yaml -> ');
  });

  it('an identical rebuild writes the same bytes, SBOM included', async () => {
    const b = await cli('bundler', ['build', 'airgap.yaml', '-o', 'b.tar', '--key', 'keys/site.key', '--no-applier', '--cache-dir', 'cache'], {
      cwd: dir,
      env: EPOCH,
    });
    expect(b.exitCode).toBe(0);
    expect((await readFile(path.join(dir, 'b.tar'))).equals(await readFile(path.join(dir, 'a.tar')))).toBe(true);
  });

  it('`bundler sbom` prints the bytes of the signed entry, or writes them with -o', async () => {
    const r = await execa(process.execPath, [path.resolve(import.meta.dirname, '../../dist/bundler.mjs'), 'sbom', 'a.tar', '--pub', 'keys/site.pub'], {
      cwd: dir,
      encoding: 'buffer',
      stripFinalNewline: false,
      reject: false,
    });
    expect(r.exitCode).toBe(0);
    expect(r.stderr.toString()).toBe('');
    expect(Buffer.from(r.stdout).equals(entry)).toBe(true);
    const o = await cli('bundler', ['sbom', 'a.tar', '--pub', 'keys/site.pub', '-o', 'out.cdx.json'], { cwd: dir });
    expect(o.exitCode).toBe(0);
    expect(o.stdout).toBe('');
    expect(o.stderr).toContain('wrote out.cdx.json (CycloneDX 1.6');
    expect((await readFile(path.join(dir, 'out.cdx.json'))).equals(entry)).toBe(true);
  });

  it('`bundler sbom` refuses a tampered bundle and one signed by another key, printing and writing nothing', async () => {
    const tampered = path.join(dir, 'tampered.tar');
    await writeFile(tampered, await readFile(path.join(dir, 'a.tar')));
    // One byte of the SBOM entry itself: its digest no longer matches the signed manifest.
    const at = (await readFile(tampered)).indexOf('"bomFormat"');
    expect(at).toBeGreaterThan(0);
    const fh = await open(tampered, 'r+');
    await fh.write(Buffer.from('B'), 0, 1, at + 1);
    await fh.close();
    const bad = await cli('bundler', ['sbom', 'tampered.tar', '--pub', 'keys/site.pub', '-o', 'bad.cdx.json'], { cwd: dir });
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toContain(`error[DIGEST_MISMATCH]: ${SBOM_PATH} has sha256`);
    expect(bad.stdout).toBe('');
    expect(await exists(path.join(dir, 'bad.cdx.json'))).toBe(false);
    expect((await cli('bundler', ['keygen', '--out', 'keys/other'], { cwd: dir })).exitCode).toBe(0);
    const other = await cli('bundler', ['sbom', 'a.tar', '--pub', 'keys/other.pub'], { cwd: dir });
    expect(other.exitCode).toBe(2);
    expect(other.stderr).toContain('error[SIGNATURE_INVALID]');
    expect(other.stdout).toBe('');
  });
});

describe('SBOM of bundles without the entry, and of the applier executables', () => {
  it('a bundle built before bundles carried one: made from its verified entries, and valid', async () => {
    const dir = await testdir();
    const b = await makeBundle({
      dir,
      images: [{ ref: 'docker.io/library/nginx:1.27', files: { 'index.html': 'hi' }, absentPlatforms: ['linux/arm64'] }],
      hosts: { 'docker.io/hosts.toml': 'server = "https://registry-1.docker.io"\n' },
    });
    expect(b.manifest.entries.some((e) => e.path === SBOM_PATH)).toBe(false);
    const r = await cli('bundler', ['sbom', b.file, '--pub', b.pubFile]);
    expect(r.exitCode).toBe(0);
    expect(r.stderr).toContain('carries no SBOM (built before bundles did)');
    expect(await validate(r.stdout)).toBeNull();
    const sbom = JSON.parse(r.stdout) as Sbom;
    for (const s of b.manifest.snaps)
      expect(
        hash(
          sbom.components.find((c) => c.name === s.name)!,
          'SHA3-384',
        ),
      ).toBe(hex(s.sha3_384));
    const nginx = sbom.components.find((c) => c.name === 'nginx')!;
    expect(nginx.purl).toBe(`pkg:oci/nginx@${b.manifest.images[0]!.digest}?repository_url=docker.io%2Flibrary%2Fnginx&tag=1.27`);
    // Of the partial index only the carried platform is listed.
    expect(props(nginx, 'airgap:oci:platform')).toEqual(['linux/amd64']);
    expect(nginx.components).toHaveLength(1);
  });

  it('is planned only for a bundle to be written: the plan of `bundler lock` (writesBundle false) has none', async () => {
    const at = await site();
    const plan = (writesBundle: boolean) =>
      planBundle({
        loaded,
        frozen: false,
        cacheDir: path.join(at, 'cache'),
        createdAt: 0,
        signer: '',
        writesBundle,
        pullImages: () => Promise.reject(new Error('the site has no images')),
      });
    const loaded = await loadSpec(path.join(at, 'airgap.yaml'));
    const paths = async (writes: boolean) => (await plan(writes)).sources.map((s) => s.path);
    expect(await paths(true)).toContain(SBOM_PATH);
    const locked = await paths(false);
    expect(locked).not.toContain(SBOM_PATH);
    expect(locked).toEqual((await paths(true)).filter((p) => p !== SBOM_PATH));
  });

  it('lists each standalone applier executable by SHA-256, and the same plan gives the same bytes', async () => {
    const dir = await testdir({ 'applier-amd64': 'not really an ELF file, but hashed all the same' });
    const file = path.join(dir, 'applier-amd64');
    const want = createHash('sha256')
      .update(await readFile(file))
      .digest('hex');
    const sources: BundleSource[] = [{ path: 'applier/linux-amd64/applier', file, mode: 0o755 }];
    const manifest = {
      formatVersion: 1,
      name: 'plan',
      createdAt: '2025-01-01T00:00:00.000Z',
      generator: 'airgap-bundler 1.2.3',
      signer: '',
      specText: '',
      spec: {} as BundleManifest['spec'],
      lock: { lockVersion: 1, snaps: [], images: [] },
      platforms: ['linux/amd64'],
      snaps: [],
      images: [],
      containerd: { hostsDir: '/etc/containerd/hosts.d', files: [] },
    } satisfies Omit<BundleManifest, 'entries'>;
    const text = await buildSbom(manifest, filesOfSources(sources));
    expect(await validate(text.toString('utf8'))).toBeNull();
    const sbom = JSON.parse(text.toString('utf8')) as Sbom;
    const applier = sbom.components.find((c) => c.name === 'airgap-applier')!;
    expect(applier).toMatchObject({ type: 'application', version: '1.2.3' });
    expect(hash(applier, 'SHA-256')).toBe(want);
    expect(props(applier, 'airgap:platform')).toEqual(['linux/amd64']);
    // No sequence: the version is createdAt.
    expect(sbom.metadata.component.version).toBe('2025-01-01T00:00:00.000Z');
    expect((await buildSbom(manifest, filesOfSources(sources))).equals(text)).toBe(true);
    // The evidence carried beside an image is listed under it, by digest.
    const subject = `sha256:${'a'.repeat(64)}`;
    const sig = `sha256:${'b'.repeat(64)}`;
    const withEvidence = {
      ...manifest,
      images: [
        {
          ref: 'ghcr.io/canonical/k8s-snap/pause:3.10',
          digest: subject,
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          evidence: [
            {
              kind: 'cosign-sig' as const,
              subject,
              tag: `sha256-${'a'.repeat(64)}.sig`,
              digest: sig,
              size: 512,
              mediaType: 'application/vnd.oci.image.manifest.v1+json',
            },
          ],
        },
      ],
    };
    const e = (await buildSbom(withEvidence, filesOfSources(sources))).toString('utf8');
    expect(await validate(e)).toBeNull();
    const pause = (JSON.parse(e) as Sbom).components.find((c) => c.name === 'pause')!;
    expect(pause.purl).toBe(`pkg:oci/pause@${subject}?repository_url=ghcr.io%2Fcanonical%2Fk8s-snap%2Fpause&tag=3.10`);
    const carried = pause.components!.find((c) => c.name === sig)!;
    expect(props(carried, 'airgap:oci:evidence')).toEqual(['cosign-sig']);
    expect(props(carried, 'airgap:oci:tag')).toEqual([`sha256-${'a'.repeat(64)}.sig`]);
    expect(hash(carried, 'SHA-256')).toBe('b'.repeat(64));
    // A snap whose .assert holds its publisher's account assertion (as `snap download` writes it): the display name.
    const assert = [
      'type: account\nauthority-id: canonical\naccount-id: acme1\ndisplay-name: Acme Ltd\ntimestamp: 2024-01-01T00:00:00Z\nusername: acme\nvalidation: verified\nsign-key-sha3-384: k\n\nSIG',
      'type: snap-declaration\nauthority-id: canonical\nseries: 16\nsnap-id: id1\npublisher-id: acme1\nsnap-name: tool\ntimestamp: 2024-01-01T00:00:00Z\nsign-key-sha3-384: k\n\nSIG',
    ].join('\n\n');
    const snap = {
      name: 'tool',
      role: 'extra' as const,
      revision: 7,
      classic: false,
      sha3_384: 'A'.repeat(64),
      size: 1,
      snapPath: 'snaps/tool_7.snap',
      assertPath: 'snaps/tool_7.assert',
    };
    const withSnap = (await buildSbom({ ...manifest, snaps: [snap] }, filesOfSources([{ path: snap.assertPath, data: Buffer.from(assert) }]))).toString('utf8');
    expect(await validate(withSnap)).toBeNull();
    const tool = (JSON.parse(withSnap) as Sbom).components.find((c) => c.name === 'tool')!;
    expect(tool.publisher).toBe('Acme Ltd');
    expect(props(tool, 'airgap:snap:publisher-id')).toEqual(['acme1']);
    expect(props(tool, 'airgap:snap:publisher-validation')).toEqual(['verified']);
    expect(hash(tool, 'SHA3-384')).toBe(hex('A'.repeat(64)));
    // Another content, another serial number.
    const other = JSON.parse((await buildSbom({ ...manifest, name: 'plan2' }, filesOfSources(sources))).toString('utf8')) as Sbom;
    expect(other.serialNumber).not.toBe(sbom.serialNumber);
  });
});
