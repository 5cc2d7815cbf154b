import { sign } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli } from '../support/cli.ts';
import { loadPublicKey, verifyBundle } from '@airgap/core';
import { bundleRegistry } from '../../packages/applier/src/serve/bundle-registry.ts';
import { serveBundle } from '../../packages/applier/src/serve/serve.ts';
import { cosignV3Bundle } from '../support/cosign-v3-bundle.ts';
import { cosignKey, putBlob, putManifest, sha, simpleSigningPayload, type CosignKey } from '../support/cosign-evidence.ts';
import { makeTestCa, type TestCa } from '../support/fulcio-ca.ts';
import { makeImage, type MadeImage } from '../support/oci-images.ts';
import { pushLayout, startRegistry, type TestRegistry } from '../support/registry.ts';
import { site } from '../support/site-fixture.ts';

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
const SIG_ARTIFACT = 'application/vnd.dev.cosign.artifact.sig.v1+json';
const BUNDLE_ARTIFACT = 'application/vnd.dev.sigstore.bundle.v0.3+json';
const ISSUER = 'https://accounts.example.com';
const SUBJECT = 'ci@example.com';
type Name = 'referred' | 'keyless' | 'bundled' | 'v3';
const NAMES: readonly Name[] = ['referred', 'keyless', 'bundled', 'v3'];

/**
 * A referrer of `image` in `repo` as an OCI 1.1 client writes it on a registry without the
 * referrers API (docker-registry 2.8): the manifest with `subject` and `artifactType`, and the
 * fallback tag `sha256-<hex>` listing it (distribution-spec v1.1.0, "Pushing Manifests with
 * Subject"). cosign writes its signature this way with --registry-referrers-mode=oci-1-1
 * (sigstore/cosign pkg/oci/remote/write.go), and its v3 Sigstore bundles with --new-bundle-format.
 */
async function putReferrer(
  reg: TestRegistry,
  repo: string,
  image: MadeImage,
  artifactType: string,
  layer: { mediaType: string; data: Buffer; annotations?: Record<string, string> },
) {
  const head = await request(`${reg.url}/v2/${repo}/manifests/${image.digest}`, { method: 'HEAD', headers: { accept: image.mediaType } });
  await head.body.dump();
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      artifactType,
      config: { mediaType: 'application/vnd.oci.empty.v1+json', ...(await putBlob(reg.url, repo, Buffer.from('{}'))) },
      layers: [{ mediaType: layer.mediaType, ...(await putBlob(reg.url, repo, layer.data)), ...(layer.annotations ? { annotations: layer.annotations } : {}) }],
      subject: { mediaType: image.mediaType, digest: image.digest, size: Number(head.headers['content-length']) },
    }),
  );
  const digest = await putManifest(reg.url, repo, sha(manifest), manifest);
  const index = { schemaVersion: 2, mediaType: OCI_INDEX, manifests: [{ mediaType: OCI_MANIFEST, digest, size: manifest.length, artifactType }] };
  await putManifest(reg.url, repo, image.digest.replace(':', '-'), Buffer.from(JSON.stringify(index)), OCI_INDEX);
}

/**
 * `applier verify-images` against a mirror `applier push` filled: signatures stored only as
 * referrers (the fallback tag on docker-registry), keyless signatures checked against an identity
 * and a trusted root, and Sigstore bundle referrers handed to the verifier. Everything real: two
 * docker-registry instances, the built CLIs, signatures in cosign's layouts made here.
 */
describe('applier verify-images: referrer-only signatures, Sigstore bundles and keyless rules', () => {
  let source: TestRegistry;
  let mirror: TestRegistry;
  let work: string;
  let ca: TestCa;
  let key: CosignKey;
  const images = {} as Record<Name, MadeImage>;
  const ref = (name: Name) => `${source.host}/apps/${name}:1`;
  const optOuts = ['--insecure-ignore-tlog', '--insecure-ignore-sct'];

  /** A site pulling the three images from `source`, with `verify` rules if given, built, its bundle and keys kept in `out`. */
  async function build(out: string, verify: string[] = []): Promise<string> {
    const dir = await site();
    const file = path.join(dir, 'airgap.yaml');
    const images = ['images:', '  k8sFeatures: false', `  refs: [${NAMES.map(ref).join(', ')}]`];
    if (verify.length > 0) images.push('  verify:', ...verify.map((r) => `    - ${r}`));
    const text = (await readFile(file, 'utf8'))
      .replace('images: {k8sFeatures: false}', images.join('\n'))
      .replace('  snapsDir: ./downloads', `  snapsDir: ./downloads\n  registries: {"${source.host}": {endpoint: "${source.url}", plainHttp: true}}`);
    await writeFile(file, text);
    await writeFile(path.join(dir, 'keys/cosign.pub'), key.publicPem);
    await writeFile(path.join(dir, 'keys/trusted_root.json'), ca.trustedRootJson);
    const r = await cli('bundler', ['build', 'airgap.yaml', '-o', 'bundle.tar', '--key', 'keys/site.key', '--no-applier', '--cache-dir', 'cache'], {
      cwd: dir,
    });
    expect(r.stderr).not.toMatch(/error/);
    expect(r.exitCode).toBe(0);
    await mkdir(out, { recursive: true });
    await copyFile(path.join(dir, 'bundle.tar'), path.join(out, 'bundle.tar'));
    await copyFile(path.join(dir, 'keys/site.pub'), path.join(out, 'site.pub'));
    return path.join(out, 'bundle.tar');
  }
  const verify = (bundle: string, args: string[]) =>
    cli('applier', ['verify-images', bundle, '--pub', path.join(path.dirname(bundle), 'site.pub'), '--registry', mirror.host, '--plain-http', ...args]);
  /** The verdict line of `name` in verify-images' output. */
  const line = (stdout: string, name: Name) => stdout.split('\n').find((l) => l.includes(` ${ref(name)} `)) ?? '';

  let plain: string;
  let ruled: string;

  beforeAll(async () => {
    [source, mirror] = await Promise.all([startRegistry(), startRegistry()]);
    work = await mkdtemp(path.join(tmpdir(), 'airgap-verify-images-'));
    ca = await makeTestCa(path.join(work, 'ca'));
    key = cosignKey();
    await writeFile(path.join(work, 'cosign.pub'), key.publicPem);
    await writeFile(path.join(work, 'other.pub'), cosignKey().publicPem);
    await writeFile(path.join(work, 'trusted_root.json'), ca.trustedRootJson);
    const layout = path.join(work, 'layout');
    for (const [i, name] of NAMES.entries()) {
      images[name] = await makeImage({ layoutDir: layout, tag: name, platforms: ['linux/amd64'], layerSizes: [6_000 + i] });
      await pushLayout(source, layout, name, `apps/${name}:1`);
    }
    // referred: a key signature stored only as a referrer; no `.sig` tag.
    const payload = simpleSigningPayload(`${source.host}/apps/referred`, images.referred.digest);
    await putReferrer(source, 'apps/referred', images.referred, SIG_ARTIFACT, {
      mediaType: 'application/vnd.dev.cosign.simplesigning.v1+json',
      data: payload,
      annotations: { 'dev.cosignproject.cosign/signature': sign('sha256', payload, key.privateKey).toString('base64') },
    });
    // keyless: cosign's keyless `.sig` layout, a leaf of our CA naming ISSUER and SUBJECT (no Rekor entry).
    const leaf = await ca.leaf({ issuer: ISSUER, san: `email:${SUBJECT}` });
    const kp = simpleSigningPayload(`${source.host}/apps/keyless`, images.keyless.digest);
    const kl = await putBlob(source.url, 'apps/keyless', kp);
    const config = await putBlob(
      source.url,
      'apps/keyless',
      Buffer.from(JSON.stringify({ architecture: '', os: '', config: {}, rootfs: { type: 'layers', diff_ids: [kl.digest] } })),
    );
    const sigManifest = {
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
      layers: [
        {
          mediaType: 'application/vnd.dev.cosign.simplesigning.v1+json',
          ...kl,
          annotations: {
            'dev.cosignproject.cosign/signature': sign('sha256', kp, leaf.privateKey).toString('base64'),
            'dev.sigstore.cosign/certificate': leaf.certPem,
            'dev.sigstore.cosign/chain': ca.certPem,
          },
        },
      ],
    };
    await putManifest(source.url, 'apps/keyless', `${images.keyless.digest.replace(':', '-')}.sig`, Buffer.from(JSON.stringify(sigManifest)));
    // bundled: a Sigstore bundle referrer (cosign v3), one that signs nothing the rule accepts (a key, not a Fulcio certificate).
    const bundle = {
      mediaType: BUNDLE_ARTIFACT,
      verificationMaterial: { publicKey: { hint: 'test' }, tlogEntries: [] },
      messageSignature: {
        messageDigest: { algorithm: 'SHA2_256', digest: Buffer.from(images.bundled.digest.slice(7), 'hex').toString('base64') },
        signature: 'AA==',
      },
    };
    await putReferrer(source, 'apps/bundled', images.bundled, BUNDLE_ARTIFACT, { mediaType: BUNDLE_ARTIFACT, data: Buffer.from(JSON.stringify(bundle)) });

    // v3: cosign v3's Sigstore bundle as a referrer (`cosign sign --new-bundle-format --tlog-upload=false`), by the key.
    await putReferrer(source, 'apps/v3', images.v3, BUNDLE_ARTIFACT, {
      mediaType: BUNDLE_ARTIFACT,
      data: cosignV3Bundle({ digest: images.v3.digest, privateKey: key.privateKey }),
    });

    // No rules: the build checks nothing, and carries the evidence. With rules: key for referred, identity (warn: no Rekor entry at build) for keyless.
    plain = await build(path.join(work, 'plain'));
    ruled = await build(path.join(work, 'ruled'), [
      `{match: "${source.host}/apps/referred*", key: keys/cosign.pub}`,
      `{match: "${source.host}/apps/keyless*", identity: {issuer: "${ISSUER}", subject: "${SUBJECT}"}, trustedRoot: keys/trusted_root.json, mode: warn}`,
    ]);
    const pushed = await cli('applier', ['push', plain, '--pub', path.join(work, 'plain/site.pub'), '--registry', mirror.host, '--plain-http']);
    expect(pushed.stderr).toBe('');
    expect(pushed.exitCode).toBe(0);
  }, 240_000);
  afterAll(async () => {
    await Promise.all([source?.stop(), mirror?.stop()]);
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('verifies a signature the mirror holds only as a referrer (fallback tag), and fails it with another key', async () => {
    const good = await verify(plain, ['--key', path.join(work, 'cosign.pub')]);
    expect(line(good.stdout, 'referred')).toMatch(/^OK +.* signed by key sha256:/);
    // Every image must verify without rules: the keyless and the bundled one do not with a key.
    expect(good.exitCode).toBe(1);
    expect(line(good.stdout, 'keyless')).toMatch(/^FAIL /);

    const other = await verify(plain, ['--key', path.join(work, 'other.pub'), '--json']);
    expect(other.exitCode).toBe(1);
    const verdicts = JSON.parse(other.stdout) as { image: string; verified: boolean; signature: string; reason?: string }[];
    const referred = verdicts.find((v) => v.image === ref('referred'))!;
    expect(referred.verified).toBe(false);
    expect(referred.signature).toContain(`referrers from ${mirror.host}/apps/referred:sha256-${images.referred.digest.slice(7)}`);
    expect(referred.reason).toContain('the signature does not verify with key');
  });

  it('verifies a keyless signature against --identity-issuer/--identity-subject and --trusted-root, and refuses another subject', async () => {
    const args = ['--trusted-root', path.join(work, 'trusted_root.json'), '--identity-issuer', ISSUER, ...optOuts];
    const good = await verify(plain, [...args, '--identity-subject', SUBJECT]);
    expect(line(good.stdout, 'keyless')).toMatch(new RegExp(`^OK +.* signed by identity ${ISSUER} ${SUBJECT}`));
    const wrong = await verify(plain, [...args, '--identity-subject', 'ops@example.com']);
    expect(line(wrong.stdout, 'keyless')).toMatch(/^FAIL .*the certificate is for subject ci@example.com, the rule wants ops@example.com/);
    const regexp = await verify(plain, [...args, '--identity-subject-regexp', '.*@example[.]com']);
    expect(line(regexp.stdout, 'keyless')).toMatch(/^OK /);
    // Without the opt-outs, a keyless signature with no Rekor entry is refused (the verifier's own rule).
    const strict = await verify(plain, ['--trusted-root', path.join(work, 'trusted_root.json'), '--identity-issuer', ISSUER, '--identity-subject', SUBJECT]);
    expect(line(strict.stdout, 'keyless')).toMatch(/^FAIL .*Rekor/);
  });

  it('verifies a Sigstore bundle referrer (cosign v3) by the key, and says why a bad one is refused', async () => {
    const r = await verify(plain, ['--key', path.join(work, 'cosign.pub')]);
    expect(line(r.stdout, 'v3')).toMatch(/^OK +.* signed by key sha256:/);
    expect(line(r.stdout, 'bundled')).toMatch(/^FAIL .*1 Sigstore bundle\(s\) among the referrers, none valid for key sha256:/);
    const other = await verify(plain, ['--key', path.join(work, 'other.pub')]);
    expect(line(other.stdout, 'v3')).toMatch(/^FAIL .*1 Sigstore bundle\(s\) among the referrers/);
  });

  it('reads the referrers through the referrers API where the registry has one (applier serve as the mirror)', async () => {
    const bundle = await verifyBundle(plain, { keys: [await loadPublicKey(path.join(work, 'plain/site.pub'))] });
    const server = await serveBundle({ registry: await bundleRegistry(bundle), host: '127.0.0.1', port: 0 });
    try {
      const host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
      const r = await cli('applier', [
        'verify-images',
        plain,
        '--pub',
        path.join(work, 'plain/site.pub'),
        '--registry',
        host,
        '--plain-http',
        '--key',
        path.join(work, 'cosign.pub'),
        '--json',
      ]);
      const verdicts = JSON.parse(r.stdout) as { image: string; verified: boolean; signature: string }[];
      for (const name of ['referred', 'v3'] as const) {
        const v = verdicts.find((x) => x.image === ref(name))!;
        expect(v.verified, name).toBe(true);
        expect(v.signature, name).toContain(`referrers from ${host}/apps/${name} referrers API`);
      }
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
  });

  it("follows the bundle's rules: a key rule takes --key, an identity rule its own identity with --trusted-root", async () => {
    const pushed = await cli('applier', ['push', ruled, '--pub', path.join(work, 'ruled/site.pub'), '--registry', mirror.host, '--plain-http']);
    expect(pushed.exitCode).toBe(0);
    const ok = await verify(ruled, ['--key', path.join(work, 'cosign.pub'), '--trusted-root', path.join(work, 'trusted_root.json'), ...optOuts]);
    expect(ok.stderr).toBe('');
    expect(ok.exitCode).toBe(0);
    expect(line(ok.stdout, 'referred')).toMatch(/^OK /);
    expect(line(ok.stdout, 'keyless')).toMatch(new RegExp(`^OK +.* signed by identity ${ISSUER} ${SUBJECT}`));
    // bundled matches no rule: not checked.
    expect(line(ok.stdout, 'bundled')).toBe('');

    const noRoot = await verify(ruled, ['--key', path.join(work, 'cosign.pub')]);
    expect(noRoot.exitCode).toBe(2);
    expect(noRoot.stderr).toContain(`rule ${source.host}/apps/keyless* is keyless: verify-images needs --trusted-root`);
    expect(noRoot.stdout).toBe('');
    const noKey = await verify(ruled, ['--trusted-root', path.join(work, 'trusted_root.json')]);
    expect(noKey.exitCode).toBe(2);
    expect(noKey.stderr).toContain(`rule ${source.host}/apps/referred* is by key: verify-images needs --key`);
  });
});
