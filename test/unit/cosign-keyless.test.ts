import { createHash, sign, X509Certificate } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fulcioIssuer, loadTrustedRoot, resolveVerifyRules, verifyCosignSignatures, type IdentityVerifyRule, type TrustedRoot } from '@airgap/core';
import { makeTestCa, type LeafOptions, type TestCa } from '../support/fulcio-ca.ts';

const FIXTURES = path.resolve(import.meta.dirname, '../fixtures/cosign');
const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const DIGEST = `sha256:${'ab'.repeat(32)}`;
const REF = 'ghcr.io/org/app:1';
const ISSUER = 'https://accounts.example.com';
const payloadFor = (digest: string) =>
  Buffer.from(
    JSON.stringify({
      critical: { identity: { 'docker-reference': 'ghcr.io/org/app' }, image: { 'docker-manifest-digest': digest }, type: 'cosign container image signature' },
      optional: null,
    }),
  );

describe('keyless (identity) rules: the certificate in the .sig layer, checked against a trusted root', () => {
  let dir: string;
  let ca: TestCa;
  let other: TestCa;
  let root: TrustedRoot;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'airgap-keyless-'));
    ca = await makeTestCa(path.join(dir, 'ca'));
    other = await makeTestCa(path.join(dir, 'other'), 'untrusted');
    await writeFile(path.join(dir, 'trusted_root.json'), ca.trustedRootJson);
    root = await loadTrustedRoot(path.join(dir, 'trusted_root.json'));
  }, 60_000);
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const rule = (identity: IdentityVerifyRule['identity']): IdentityVerifyRule => ({ match: 'ghcr.io/org/*', identity, trustedRoot: root, mode: 'enforce' });

  /** One keyless signature layer by a leaf of `from`, as cosign writes it; `annotations` added or overriding. */
  async function signed(from: TestCa, leaf: LeafOptions, o: { digest?: string; annotations?: Record<string, string> } = {}) {
    const l = await from.leaf(leaf);
    const payload = payloadFor(o.digest ?? DIGEST);
    const annotations = {
      'dev.cosignproject.cosign/signature': sign('sha256', payload, l.privateKey).toString('base64'),
      'dev.sigstore.cosign/certificate': l.certPem,
      'dev.sigstore.cosign/chain': from.certPem,
      ...o.annotations,
    };
    return {
      imageDigest: DIGEST,
      imageRef: REF,
      signatureManifest: {
        layers: [{ mediaType: 'application/vnd.dev.cosign.simplesigning.v1+json', digest: sha(payload), size: payload.length, annotations }],
      },
      readBlob: (d: string) => (d === sha(payload) ? Promise.resolve(payload) : Promise.reject(new Error(`no blob ${d}`))),
    };
  }

  it('reads the Fulcio CAs of a real trusted_root.json (sigstore-js test data)', async () => {
    const real = await loadTrustedRoot(path.join(FIXTURES, 'sigstore-js-trusted-root.json'));
    expect(real.authorities.map((a) => a.uri)).toEqual(['https://fulcio.sigstore.dev', 'https://fulcio.sigstore.dev']);
    expect(real.authorities[0]!.certificates[0]!.subject).toContain('CN=sigstore');
    expect(real.authorities[1]!.certificates).toHaveLength(2);
    expect(real.authorities[1]!.start?.toISOString()).toBe('2022-04-13T20:06:15.000Z');
    await expect(loadTrustedRoot(path.join(FIXTURES, 'cosign-test.pub'))).rejects.toMatchObject({ code: 'KEY_INVALID' });
  });

  it('reads the issuer from both Fulcio extensions', async () => {
    const v2 = await ca.leaf({ issuer: ISSUER, san: 'email:ci@example.com' });
    const v1 = await ca.leaf({ issuer: 'https://legacy.example.com', san: 'email:ci@example.com', legacyIssuer: true });
    expect(fulcioIssuer(new X509Certificate(v2.certPem))).toBe(ISSUER);
    expect(fulcioIssuer(new X509Certificate(v1.certPem))).toBe('https://legacy.example.com');
    expect(fulcioIssuer(new X509Certificate(ca.certPem))).toBeUndefined();
  });

  const good: LeafOptions = { issuer: ISSUER, san: 'email:ci@example.com' };
  it.each([
    ['the matching identity', good, { issuer: ISSUER, subject: 'ci@example.com' }, `verified identity ${ISSUER} ci@example.com`],
    [
      'a URI SAN by regular expression',
      { issuer: ISSUER, san: 'URI:https://github.com/org/app/.github/workflows/release.yml@refs/tags/v1' },
      { issuer: ISSUER, subjectRegExp: 'https://github\\.com/org/app/.*' },
      'verified',
    ],
    ['the legacy issuer extension', { ...good, legacyIssuer: true }, { issuer: ISSUER, subject: 'ci@example.com' }, 'verified'],
    ['another subject', good, { issuer: ISSUER, subject: 'ops@example.com' }, 'the certificate is for subject ci@example.com, the rule wants ops@example.com'],
    ['a regexp that only matches a part', good, { issuer: ISSUER, subjectRegExp: 'ci@example' }, 'the rule wants /ci@example/'],
    ['another issuer', good, { issuer: 'https://other.example.com', subject: 'ci@example.com' }, `for issuer ${ISSUER}`],
    ['an expired certificate', { ...good, start: '20200101000000Z', end: '20200102000000Z' }, { issuer: ISSUER, subject: 'ci@example.com' }, 'is valid'],
  ] as const)('%s', async (_name, leaf, identity, want) => {
    const r = await verifyCosignSignatures({ ...(await signed(ca, leaf)), rule: rule(identity) });
    if (want.startsWith('verified')) {
      expect(r.verified).toBe(true);
      if (want !== 'verified') expect(`verified ${r.by}`).toBe(want);
    } else {
      expect(r.verified).toBe(false);
      expect(r.reason).toContain(want);
    }
  });

  it('refuses a certificate from a CA not in the trusted root, even with the CA in the chain annotation', async () => {
    const r = await verifyCosignSignatures({ ...(await signed(other, good)), rule: rule({ issuer: ISSUER, subject: 'ci@example.com' }) });
    expect(r).toMatchObject({ verified: false });
    expect(r.reason).toContain('does not chain to a CA of the trusted root');
  });

  it('uses the Rekor bundle integratedTime as the signing time when the layer has one, else now', async () => {
    // The leaf is valid from yesterday for ten days: fine now, not at an integratedTime twenty days on.
    const at = (t: number) => JSON.stringify({ SignedEntryTimestamp: '', Payload: { body: '', integratedTime: Math.floor(t / 1000), logIndex: 1, logID: '' } });
    const id = { issuer: ISSUER, subject: 'ci@example.com' };
    const later = await verifyCosignSignatures({
      ...(await signed(ca, good, { annotations: { 'dev.sigstore.cosign/bundle': at(Date.now() + 20 * 86_400_000) } })),
      rule: rule(id),
    });
    expect(later.verified).toBe(false);
    expect(later.reason).toMatch(/the certificate \(email:ci@example.com\) is valid .* not at 20/);
    const inside = await verifyCosignSignatures({
      ...(await signed(ca, good, { annotations: { 'dev.sigstore.cosign/bundle': at(Date.now() + 86_400_000) } })),
      rule: rule(id),
    });
    expect(inside).toMatchObject({ verified: true, by: `identity ${ISSUER} ci@example.com` });
  });

  it('refuses a signature the certificate key did not make, and a key signature with no certificate', async () => {
    const s = await signed(ca, good, {
      annotations: {
        'dev.cosignproject.cosign/signature': (await signed(ca, good)).signatureManifest.layers[0]!.annotations['dev.cosignproject.cosign/signature'],
      },
    });
    const bad = await verifyCosignSignatures({ ...s, rule: rule({ issuer: ISSUER, subject: 'ci@example.com' }) });
    expect(bad.reason).toContain("does not verify with the certificate's key");
    const plain = await signed(ca, good);
    delete (plain.signatureManifest.layers[0]!.annotations as Record<string, string>)['dev.sigstore.cosign/certificate'];
    const none = await verifyCosignSignatures({ ...plain, rule: rule({ issuer: ISSUER, subject: 'ci@example.com' }) });
    expect(none.reason).toContain('no dev.sigstore.cosign/certificate annotation');
  });

  it('keeps the payload checks: a good certificate over another digest fails', async () => {
    const r = await verifyCosignSignatures({
      ...(await signed(ca, good, { digest: `sha256:${'cd'.repeat(32)}` })),
      rule: rule({ issuer: ISSUER, subject: 'ci@example.com' }),
    });
    expect(r.reason).toContain(`the image is ${DIGEST}`);
  });

  it('resolves spec rules with identity + trustedRoot, and refuses one with neither key nor trustedRoot', async () => {
    const [r] = await resolveVerifyRules(
      [{ match: 'ghcr.io/org/*', identity: { issuer: ISSUER, subject: 'ci@example.com' }, trustedRoot: 'trusted_root.json' }],
      dir,
    );
    expect(r).toMatchObject({ identity: { issuer: ISSUER, subject: 'ci@example.com' }, mode: 'enforce' });
    await expect(resolveVerifyRules([{ match: 'x/*', identity: { issuer: ISSUER, subject: 'a' } }], dir)).rejects.toMatchObject({ code: 'SPEC_INVALID' });
  });
});
