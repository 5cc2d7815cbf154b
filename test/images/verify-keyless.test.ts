import { sign } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadPublicKey, verifyBundle } from '@airgap/core';
import { cli } from '../support/cli.ts';
import { putBlob, putManifest, simpleSigningPayload } from '../support/cosign-evidence.ts';
import { makeTestCa, type LeafOptions, type TestCa } from '../support/fulcio-ca.ts';
import { makeTestRekor, type TestRekor } from '../support/test-rekor.ts';
import { makeImage, type MadeImage } from '../support/oci-images.ts';
import { pushLayout, startRegistry, type TestRegistry } from '../support/registry.ts';
import { site } from '../support/site-fixture.ts';
import { testdir } from '../support/tmpdir.ts';

const ISSUER = 'https://accounts.example.com';
const SUBJECT = 'ci@example.com';
type Name = 'good' | 'subject' | 'issuer' | 'untrusted' | 'expired' | 'tlog';

/**
 * Keyless `images.verify` rules end to end: a CA of our own (openssl) written as a Sigstore
 * trusted_root.json, leaf certificates in Fulcio's shape (test/support/fulcio-ca.ts), and cosign's
 * keyless `.sig` layout in a real registry (docker-registry): the simple-signing payload, the
 * ECDSA signature by the leaf's key, the leaf PEM and the chain in the layer annotations, and the
 * Rekor bundle annotation of a test log (test/support/test-rekor.ts) whose key is in the trusted
 * root's tlogs. The test CA's certificates have no SCTs, so the rule opts out of those
 * (insecureIgnoreSct), which the manifest and inspect then say.
 */
describe('bundler build checks keyless cosign signatures against an identity and a trusted root', () => {
  let reg: TestRegistry;
  let work: string;
  let ca: TestCa;
  let rekor: TestRekor;
  const images = {} as Record<Name, MadeImage>;
  const ref = (name: Name) => `${reg.host}/apps/${name}:1`;

  /** Sign `image` in cosign's keyless layout with a fresh leaf of `from`. */
  async function signKeyless(repo: string, image: MadeImage, from: TestCa, leaf: LeafOptions, log: TestRekor = rekor) {
    const l = await from.leaf(leaf);
    const payload = simpleSigningPayload(`${reg.host}/${repo}`, image.digest);
    const signature = sign('sha256', payload, l.privateKey).toString('base64');
    const layer = await putBlob(reg.url, repo, payload);
    const config = await putBlob(
      reg.url,
      repo,
      Buffer.from(JSON.stringify({ architecture: '', os: '', config: {}, rootfs: { type: 'layers', diff_ids: [layer.digest] } })),
    );
    const manifest = {
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
      layers: [
        {
          mediaType: 'application/vnd.dev.cosign.simplesigning.v1+json',
          ...layer,
          annotations: {
            'dev.cosignproject.cosign/signature': signature,
            'dev.sigstore.cosign/certificate': l.certPem,
            'dev.sigstore.cosign/chain': from.certPem,
            'dev.sigstore.cosign/bundle': log.bundleAnnotation({ payload, signature, certPem: l.certPem }),
          },
        },
      ],
    };
    await putManifest(reg.url, repo, `${image.digest.replace(':', '-')}.sig`, Buffer.from(JSON.stringify(manifest)));
  }

  beforeAll(async () => {
    reg = await startRegistry();
    work = await mkdtemp(path.join(tmpdir(), 'airgap-keyless-e2e-'));
    ca = await makeTestCa(path.join(work, 'ca'));
    rekor = makeTestRekor();
    const untrusted = await makeTestCa(path.join(work, 'untrusted'), 'untrusted');
    const layout = await testdir();
    const names: Name[] = ['good', 'subject', 'issuer', 'untrusted', 'expired', 'tlog'];
    for (const [i, name] of names.entries()) {
      images[name] = await makeImage({ layoutDir: layout, tag: name, platforms: ['linux/amd64'], layerSizes: [5_000 + i] });
      await pushLayout(reg, layout, name, `apps/${name}:1`);
    }
    const id = { issuer: ISSUER, san: `email:${SUBJECT}` };
    await signKeyless('apps/good', images.good, ca, id);
    await signKeyless('apps/subject', images.subject, ca, { ...id, san: 'email:ops@example.com' });
    await signKeyless('apps/issuer', images.issuer, ca, { ...id, issuer: 'https://other.example.com' });
    await signKeyless('apps/untrusted', images.untrusted, untrusted, id);
    await signKeyless('apps/expired', images.expired, ca, { ...id, start: '20200101000000Z', end: '20200102000000Z' });
    await signKeyless('apps/tlog', images.tlog, ca, id, makeTestRekor()); // logged in a Rekor the trusted root does not know
  }, 120_000);
  afterAll(async () => {
    await reg?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  /** The site fixture pulling `refs` from the test registry, under one keyless rule over apps/*. */
  async function spec(refs: string[]): Promise<string> {
    const dir = await site();
    const file = path.join(dir, 'airgap.yaml');
    const block = `images:
  k8sFeatures: false
  refs: [${refs.join(', ')}]
  verify:
    - {match: "${reg.host}/apps/*", identity: {issuer: "${ISSUER}", subject: "${SUBJECT}"}, trustedRoot: keys/trusted_root.json, insecureIgnoreSct: true}`;
    const registries = `  registries: {"${reg.host}": {endpoint: "${reg.url}", plainHttp: true}}`;
    let text = await readFile(file, 'utf8');
    text = text.replace('images: {k8sFeatures: false}', block).replace('  snapsDir: ./downloads', `  snapsDir: ./downloads\n${registries}`);
    await Promise.all([writeFile(file, text), writeFile(path.join(dir, 'keys/trusted_root.json'), rekor.addTo(ca.trustedRootJson))]);
    return dir;
  }
  const build = (dir: string) =>
    cli('bundler', ['build', 'airgap.yaml', '-o', 'bundle.tar', '--key', 'keys/site.key', '--no-applier', '--cache-dir', 'cache'], { cwd: dir });
  const bundleFiles = async (dir: string) => (await readdir(dir)).filter((n) => n.startsWith('bundle'));
  const by = `identity ${ISSUER} ${SUBJECT}`;
  const verifiedBy = `${by} (no SCT check)`;

  it('passes with the matching identity and a Rekor entry of the trusted log, records it in the signed manifest, and inspect says no SCT was checked', async () => {
    const dir = await spec([ref('good')]);
    const r = await build(dir);
    expect(r.stderr).not.toMatch(/warning|error/);
    expect(r.exitCode).toBe(0);
    const bundle = await verifyBundle(path.join(dir, 'bundle.tar'), { keys: [await loadPublicKey(path.join(dir, 'keys/site.pub'))] });
    const named = bundle.manifest.images.filter((i) => i.digest === images.good.digest);
    expect(named.length).toBeGreaterThan(0);
    for (const i of named) expect(i.verified).toEqual({ rule: `${reg.host}/apps/*`, mode: 'enforce', ok: true, by: verifiedBy });
    const inspect = await cli('bundler', ['inspect', 'bundle.tar'], { cwd: dir });
    expect(inspect.stdout).toContain(`verified: cosign signature by ${verifiedBy} (rule ${reg.host}/apps/*)`);
  });

  it.each([
    ['another subject', 'subject', 'the certificate is for subject ops@example.com, the rule wants ci@example.com'],
    ['another issuer', 'issuer', `the certificate is for issuer https://other.example.com (${SUBJECT}), the rule wants ${ISSUER}`],
    ['a certificate from an untrusted CA', 'untrusted', 'the certificate does not chain to a CA of the trusted root'],
    ['an expired certificate', 'expired', 'is valid'],
    [
      'a Rekor entry of a log the trusted root does not hold',
      'tlog',
      "the transparency log entry's signed entry timestamp (SET) does not verify with a tlogs key",
    ],
  ] as const)('fails with exit 1 and no bundle for %s', async (_what, name, reason) => {
    const dir = await spec([ref('good'), ref(name)]);
    const r = await build(dir);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain('error[IMAGE_UNVERIFIED]: 1 image(s) have no valid signature');
    expect(r.stderr).toContain(`${ref(name)} (${images[name].digest}) matches images.verify rule ${reg.host}/apps/* (${by} from `);
    expect(r.stderr).toContain(reason);
    expect(await bundleFiles(dir)).toEqual([]);
  });
});
