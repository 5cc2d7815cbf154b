import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cosignFingerprint, loadPublicKey, verifyBundle, type BundleManifest } from '@airgap/core';
import { createPublicKey, sign } from 'node:crypto';
import { cli } from '../support/cli.ts';
import { request } from 'undici';
import { cosignV3Bundle } from '../support/cosign-v3-bundle.ts';
import { cosignKey, publishEvidence, putManifest, sha, simpleSigningPayload, type CosignKey } from '../support/cosign-evidence.ts';
import { makeImage, type MadeImage } from '../support/oci-images.ts';
import { pushLayout, startRegistry, type TestRegistry } from '../support/registry.ts';
import { site } from '../support/site-fixture.ts';
import { testdir } from '../support/tmpdir.ts';

/**
 * `images.verify` end to end: images in a real registry (docker-registry), signatures in cosign's
 * layout beside them (`sha256-<hex>.sig`, simple-signing payload, ECDSA P-256 signature in the layer
 * annotation; test/support/cosign-evidence.ts), the built bundler run as a user runs it.
 */
describe('bundler build checks cosign signatures of the images a rule matches', () => {
  let reg: TestRegistry;
  const images: Record<'good' | 'foreign' | 'unsigned' | 'referred' | 'v3', MadeImage> = {} as never;
  let trusted: CosignKey;
  const ref = (name: keyof typeof images) => `${reg.host}/apps/${name}:1`;

  beforeAll(async () => {
    reg = await startRegistry();
    const layout = await testdir();
    trusted = cosignKey();
    for (const [i, name] of (['good', 'foreign', 'unsigned', 'referred', 'v3'] as const).entries()) {
      images[name] = await makeImage({ layoutDir: layout, tag: name, platforms: ['linux/amd64'], layerSizes: [4_000 + i] });
      await pushLayout(reg, layout, name, `apps/${name}:1`);
    }
    await publishEvidence({ base: reg.url, repo: 'apps/good', host: reg.host, digest: images.good.digest, key: trusted });
    // Signed in the same layout, by a key the rule does not name.
    await publishEvidence({ base: reg.url, repo: 'apps/foreign', host: reg.host, digest: images.foreign.digest, key: cosignKey() });
    await signAsReferrer(reg, 'apps/referred', images.referred, trusted);
    await signAsReferrer(reg, 'apps/v3', images.v3, trusted, {
      artifactType: 'application/vnd.dev.sigstore.bundle.v0.3+json',
      data: cosignV3Bundle({ digest: images.v3.digest, privateKey: trusted.privateKey }),
    });
  }, 120_000);
  afterAll(async () => {
    await reg?.stop();
  });

  /** The site fixture with `refs` from the test registry and one rule over apps/* naming keys/cosign.pub. */
  async function spec(refs: string[], mode?: 'enforce' | 'warn'): Promise<string> {
    const dir = await site();
    const text = (await readFile(path.join(dir, 'airgap.yaml'), 'utf8'))
      .replace(
        'images: {k8sFeatures: false}',
        [
          'images:',
          '  k8sFeatures: false',
          `  refs: [${refs.join(', ')}]`,
          '  verify:',
          `    - match: "${reg.host}/apps/*"`,
          '      key: keys/cosign.pub',
          ...(mode ? [`      mode: ${mode}`] : []),
        ].join('\n'),
      )
      .replace('  snapsDir: ./downloads', `  snapsDir: ./downloads\n  registries: {"${reg.host}": {endpoint: "${reg.url}", plainHttp: true}}`);
    await writeFile(path.join(dir, 'airgap.yaml'), text);
    await writeFile(path.join(dir, 'keys/cosign.pub'), trusted.publicPem);
    return dir;
  }

  const build = (dir: string) =>
    cli('bundler', ['build', 'airgap.yaml', '-o', 'bundle.tar', '--key', 'keys/site.key', '--no-applier', '--cache-dir', 'cache'], { cwd: dir });
  const fingerprint = () => cosignFingerprint(createPublicKey(trusted.publicPem));
  /** Nothing of a bundle in the folder: no bundle.tar, no temp file beside it. */
  const bundleFiles = async (dir: string) => (await readdir(dir)).filter((n) => n.startsWith('bundle'));
  /** A build that must pass cleanly; its bundle, verified with the site key. */
  async function builtBundle(dir: string): Promise<{ stdout: string; manifest: BundleManifest }> {
    const r = await build(dir);
    expect(r.stderr).not.toMatch(/warning|error/);
    expect(r.exitCode).toBe(0);
    const bundle = await verifyBundle(path.join(dir, 'bundle.tar'), { keys: [await loadPublicKey(path.join(dir, 'keys/site.pub'))] });
    return { stdout: r.stdout, manifest: bundle.manifest };
  }

  it('passes with the matching key, records the key in the signed manifest, and inspect prints it', async () => {
    const dir = await spec([ref('good')]);
    const r = await builtBundle(dir);
    const named = r.manifest.images.filter((i) => i.digest === images.good.digest);
    expect(named.length).toBe(2); // the tag and its repo@digest name
    for (const i of named) expect(i.verified).toEqual({ rule: `${reg.host}/apps/*`, mode: 'enforce', ok: true, by: `key ${fingerprint()}` });
    expect(r.stdout).toContain(`verified: cosign signature by key ${fingerprint()} (rule ${reg.host}/apps/*)`);
    const inspect = await cli('bundler', ['inspect', 'bundle.tar', '--json'], { cwd: dir });
    const shown = JSON.parse(inspect.stdout) as { images: { verified?: { by?: string } }[] };
    expect(shown.images[0]?.verified?.by).toBe(`key ${fingerprint()}`);
  });

  it('asks the registry for the evidence once: verify reads what the pull found (and, with --frozen, what the lock pins)', async () => {
    const dir = await spec([ref('good')]);
    const before = (await reg.requests()).length;
    await builtBundle(dir);
    const hex = images.good.digest.slice(7);
    const asked = (await reg.requests()).slice(before);
    const count = (uri: string) => asked.filter((r) => r.uri === uri).length;
    // The registry log of docker-registry: each evidence look-up once, not once by the pull and again by verify.
    // (the HEAD of a tag, then the GET by the digest it named, which the cache answers the second time).
    expect(count(`/v2/apps/good/manifests/sha256-${hex}.sig`)).toBe(1);
    // distribution 2.8 has no referrers route and logs no line for it; its fallback tag is read once.
    expect(count(`/v2/apps/good/manifests/sha256-${hex}`)).toBe(1);

    // Frozen, warm cache: the lock pins the evidence and the cache holds it, so no tag or referrers list is asked for.
    const lock = await cli('bundler', ['lock', 'airgap.yaml', '--cache-dir', 'cache'], { cwd: dir });
    expect(lock.exitCode).toBe(0);
    const mark = (await reg.requests()).length;
    const frozen = await cli(
      'bundler',
      ['build', 'airgap.yaml', '-o', 'bundle2.tar', '--key', 'keys/site.key', '--no-applier', '--cache-dir', 'cache', '--frozen'],
      { cwd: dir },
    );
    expect(frozen.stderr).not.toMatch(/warning|error/);
    expect(frozen.exitCode).toBe(0);
    const again = (await reg.requests()).slice(mark);
    expect(again.filter((r) => r.uri.includes('/referrers/') || r.uri.includes(`sha256-${hex}`))).toEqual([]);
    const b = await verifyBundle(path.join(dir, 'bundle2.tar'), { keys: [await loadPublicKey(path.join(dir, 'keys/site.pub'))] });
    expect(b.manifest.images.find((i) => i.ref === ref('good'))!.verified).toMatchObject({ ok: true, by: `key ${fingerprint()}` });
  });

  it('fails with exit 1 and no bundle when the only signature is by another key', async () => {
    const dir = await spec([ref('good'), ref('foreign')]);
    const r = await build(dir);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain('error[IMAGE_UNVERIFIED]: 1 image(s) have no valid signature');
    expect(r.stderr).toContain(`${ref('foreign')} (${images.foreign.digest}) matches images.verify rule ${reg.host}/apps/* (key ${fingerprint()}`);
    expect(r.stderr).toContain(`1 signature(s) in sha256-${images.foreign.digest.slice(7)}.sig, none valid for key ${fingerprint()}`);
    expect(r.stderr).toContain('the signature does not verify');
    expect(await bundleFiles(dir)).toEqual([]);
  });

  it('fails for an unsigned image under enforce (the default), naming the tag it looked for', async () => {
    const dir = await spec([ref('unsigned')]);
    const r = await build(dir);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain(`${ref('unsigned')} (${images.unsigned.digest}) matches images.verify rule`);
    expect(r.stderr).toContain(`no signature: the repository has no tag sha256-${images.unsigned.digest.slice(7)}.sig`);
    expect(await bundleFiles(dir)).toEqual([]);
  });

  it('warns and goes on under mode warn, and the manifest says it was not verified', async () => {
    const dir = await spec([ref('unsigned')], 'warn');
    const r = await build(dir);
    expect(r.exitCode).toBe(0);
    expect(r.stderr).toContain(`warning[IMAGE_UNVERIFIED]: ${ref('unsigned')} (${images.unsigned.digest}) matches images.verify rule`);
    const bundle = await verifyBundle(path.join(dir, 'bundle.tar'), { keys: [await loadPublicKey(path.join(dir, 'keys/site.pub'))] });
    const v = bundle.manifest.images.find((i) => i.ref === ref('unsigned'))!.verified!;
    expect(v).toMatchObject({ mode: 'warn', ok: false, reason: expect.stringContaining('no signature') as unknown });
    expect(r.stdout).toContain('NOT verified (rule');
  });

  it('refuses a bad rule with file:line:column before pulling anything', async () => {
    const dir = await spec([ref('good')], 'audit' as never);
    const r = await build(dir);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/airgap\.yaml:\d+:\d+: images\.verify\[0\]\.mode: /);
    const missing = await spec([ref('good')]);
    await writeFile(path.join(missing, 'airgap.yaml'), (await readFile(path.join(missing, 'airgap.yaml'), 'utf8')).replace('keys/cosign.pub', 'keys/nope.pub'));
    const m = await build(missing);
    expect(m.exitCode).toBe(2);
    expect(m.stderr).toMatch(/airgap\.yaml:\d+:\d+: images\.verify\[0\]\.key: file keys\/nope\.pub not found/);
  });

  it('finds a signature stored as an OCI 1.1 referrer (cosign --registry-referrers-mode=oci-1-1) and verifies it', async () => {
    const { manifest } = await builtBundle(await spec([ref('referred')]));
    expect(manifest.images.find((i) => i.ref === ref('referred'))!.verified).toMatchObject({ ok: true, by: `key ${fingerprint()}` });
  });

  it('with images.evidence: false the verify step looks for the signatures itself, and the bundle carries none', async () => {
    const dir = await spec([ref('good'), ref('referred')]);
    const file = path.join(dir, 'airgap.yaml');
    await writeFile(file, (await readFile(file, 'utf8')).replace('  k8sFeatures: false\n', '  k8sFeatures: false\n  evidence: false\n'));
    const { manifest } = await builtBundle(dir);
    for (const name of ['good', 'referred'] as const) {
      const image = manifest.images.find((i) => i.ref === ref(name))!;
      expect(image.verified, name).toMatchObject({ ok: true, by: `key ${fingerprint()}` });
      expect(image.evidence, name).toBeUndefined();
    }
  });

  it('verifies a Sigstore bundle referrer (cosign v3 --new-bundle-format) the pull found', async () => {
    const { manifest } = await builtBundle(await spec([ref('v3')]));
    expect(manifest.images.find((i) => i.ref === ref('v3'))!.verified).toMatchObject({ ok: true, by: `key ${fingerprint()}` });
  });
});

/**
 * A cosign signature as a referrer: a manifest with artifactType
 * application/vnd.dev.cosign.artifact.sig.v1+json, the image as subject and the simple-signing
 * layer (sigstore/cosign pkg/oci/remote/write.go, WriteSignaturesExperimentalOCI), plus the
 * referrers fallback tag a client writes where the registry has no referrers API.
 */
async function signAsReferrer(
  reg: TestRegistry,
  repo: string,
  image: MadeImage,
  key: CosignKey,
  /** Instead of the simple-signing layer: one layer of this artifactType (a Sigstore bundle, cosign v3). */
  bundle?: { artifactType: string; data: Buffer },
): Promise<void> {
  const payload = simpleSigningPayload(`${reg.host}/${repo}`, image.digest);
  // distribution wants an upload session (POST), then the bytes with their digest (PUT).
  const blob = async (data: Buffer) => {
    const session = await request(`${reg.url}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
    await session.body.dump();
    const at = new URL(String(session.headers.location), reg.url);
    at.searchParams.set('digest', sha(data));
    const done = await request(at.toString(), { method: 'PUT', body: data, headers: { 'content-type': 'application/octet-stream' } });
    await done.body.dump();
    expect(done.statusCode).toBe(201);
    return { digest: sha(data), size: data.length };
  };
  const artifactType = bundle?.artifactType ?? 'application/vnd.dev.cosign.artifact.sig.v1+json';
  const head = await request(`${reg.url}/v2/${repo}/manifests/${image.digest}`, { method: 'HEAD', headers: { accept: image.mediaType } });
  await head.body.dump();
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      artifactType,
      config: { mediaType: 'application/vnd.oci.empty.v1+json', ...(await blob(Buffer.from('{}'))) },
      layers: [
        bundle
          ? { mediaType: bundle.artifactType, ...(await blob(bundle.data)) }
          : {
              mediaType: 'application/vnd.dev.cosign.simplesigning.v1+json',
              ...(await blob(payload)),
              annotations: { 'dev.cosignproject.cosign/signature': sign('sha256', payload, key.privateKey).toString('base64') },
            },
      ],
      subject: { mediaType: image.mediaType, digest: image.digest, size: Number(head.headers['content-length']) },
    }),
  );
  const digest = await putManifest(reg.url, repo, sha(manifest), manifest);
  const index = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest, size: manifest.length, artifactType }],
    }),
  );
  await putManifest(reg.url, repo, image.digest.replace(':', '-'), index, 'application/vnd.oci.image.index.v1+json');
}
