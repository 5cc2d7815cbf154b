import { createHash, sign, X509Certificate } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fulcioIssuer, loadTrustedRoot, resolveVerifyRules, verifyCosignSignatures, type IdentityVerifyRule, type TrustedRoot } from '@airgap/core';
import { makeTestCa, type LeafOptions, type TestCa } from '../support/fulcio-ca.ts';
import { makeTestRekor, type TestRekor } from '../support/test-rekor.ts';

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
  let rekor: TestRekor;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'airgap-keyless-'));
    ca = await makeTestCa(path.join(dir, 'ca'));
    other = await makeTestCa(path.join(dir, 'other'), 'untrusted');
    rekor = makeTestRekor();
    // The test CA's trusted root with a test Rekor key in its tlogs (its certificates carry no SCTs: the rules opt out of those).
    await writeFile(path.join(dir, 'trusted_root.json'), rekor.addTo(ca.trustedRootJson));
    root = await loadTrustedRoot(path.join(dir, 'trusted_root.json'));
  }, 60_000);
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const rule = (identity: IdentityVerifyRule['identity'], o: Partial<IdentityVerifyRule> = {}): IdentityVerifyRule => ({
    match: 'ghcr.io/org/*',
    identity,
    trustedRoot: root,
    insecureIgnoreSct: true,
    mode: 'enforce',
    ...o,
  });

  /**
   * One keyless signature layer by a leaf of `from`, as cosign writes it, with a Rekor bundle
   * annotation of the test log (at `integratedTime`, default now; `rekor: false` for none);
   * `annotations` added or overriding (the Rekor entry is made for the final signature).
   */
  async function signed(
    from: TestCa,
    leaf: LeafOptions,
    o: { digest?: string; annotations?: Record<string, string>; rekor?: false; integratedTime?: number } = {},
  ) {
    const l = await from.leaf(leaf);
    const payload = payloadFor(o.digest ?? DIGEST);
    const annotations: Record<string, string> = {
      'dev.cosignproject.cosign/signature': sign('sha256', payload, l.privateKey).toString('base64'),
      'dev.sigstore.cosign/certificate': l.certPem,
      'dev.sigstore.cosign/chain': from.certPem,
      ...o.annotations,
    };
    if (o.rekor !== false && annotations['dev.sigstore.cosign/bundle'] === undefined)
      annotations['dev.sigstore.cosign/bundle'] = rekor.bundleAnnotation({
        payload,
        signature: annotations['dev.cosignproject.cosign/signature']!,
        certPem: l.certPem,
        ...(o.integratedTime !== undefined ? { integratedTime: o.integratedTime } : {}),
      });
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
    ['the matching identity', good, { issuer: ISSUER, subject: 'ci@example.com' }, `verified identity ${ISSUER} ci@example.com (no SCT check)`],
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

  it('checks the Rekor bundle: its SET with the trusted root tlogs key, the certificate at its verified integratedTime', async () => {
    // The leaf is valid from yesterday for ten days: fine now, not at an integratedTime twenty days on.
    const id = { issuer: ISSUER, subject: 'ci@example.com' };
    const t = (ms: number) => Math.floor((Date.now() + ms) / 1000);
    const later = await verifyCosignSignatures({ ...(await signed(ca, good, { integratedTime: t(20 * 86_400_000) })), rule: rule(id) });
    expect(later.verified).toBe(false);
    expect(later.reason).toMatch(/the certificate \(email:ci@example.com\) is valid .* not at 20/);
    const inside = await verifyCosignSignatures({ ...(await signed(ca, good, { integratedTime: t(86_400_000) })), rule: rule(id) });
    expect(inside).toMatchObject({ verified: true, by: `identity ${ISSUER} ci@example.com (no SCT check)` });

    // The same entry with its integratedTime moved: the SET no longer verifies.
    const s = await signed(ca, good);
    const layer = s.signatureManifest.layers[0]!;
    const rb = JSON.parse(layer.annotations['dev.sigstore.cosign/bundle']!) as { Payload: { integratedTime: number } };
    rb.Payload.integratedTime += 60;
    layer.annotations['dev.sigstore.cosign/bundle'] = JSON.stringify(rb);
    const moved = await verifyCosignSignatures({ ...s, rule: rule(id) });
    expect(moved.reason).toContain("signature 1: the transparency log entry's signed entry timestamp (SET) does not verify with a tlogs key of");

    // A Rekor entry of another log (a key the trusted root does not hold).
    const stranger = makeTestRekor();
    const s2 = await signed(ca, good, { rekor: false });
    const l2 = s2.signatureManifest.layers[0]!;
    l2.annotations['dev.sigstore.cosign/bundle'] = stranger.bundleAnnotation({
      payload: payloadFor(DIGEST),
      signature: l2.annotations['dev.cosignproject.cosign/signature']!,
      certPem: l2.annotations['dev.sigstore.cosign/certificate']!,
    });
    expect((await verifyCosignSignatures({ ...s2, rule: rule(id) })).reason).toContain('(SET) does not verify');

    // An entry for another signature (the body is the log's record of what was signed).
    const s3 = await signed(ca, good);
    const other = await signed(ca, good);
    s3.signatureManifest.layers[0]!.annotations['dev.sigstore.cosign/bundle'] = other.signatureManifest.layers[0]!.annotations['dev.sigstore.cosign/bundle']!;
    expect((await verifyCosignSignatures({ ...s3, rule: rule(id) })).reason).toContain('the transparency log entry is for another signature');
  });

  it('without a Rekor bundle or SCTs the rule must opt out, and by says so', async () => {
    const id = { issuer: ISSUER, subject: 'ci@example.com' };
    const bare = await signed(ca, good, { rekor: false });
    expect((await verifyCosignSignatures({ ...bare, rule: rule(id) })).reason).toContain(
      'no dev.sigstore.cosign/bundle annotation: the signature has no Rekor entry (the rule may accept that with insecureIgnoreTlog: true)',
    );
    expect((await verifyCosignSignatures({ ...bare, rule: rule(id, { insecureIgnoreTlog: true, insecureIgnoreSct: false }) })).reason).toContain(
      'signature 1: the certificate has no SCTs (the rule may accept that with insecureIgnoreSct: true)',
    );
    expect(await verifyCosignSignatures({ ...bare, rule: rule(id, { insecureIgnoreTlog: true }) })).toMatchObject({
      verified: true,
      by: `identity ${ISSUER} ci@example.com (no transparency log check, no SCT check)`,
    });
    // SCTs are required by default: the test CA's certificates have none.
    expect((await verifyCosignSignatures({ ...(await signed(ca, good)), rule: rule(id, { insecureIgnoreSct: false }) })).reason).toContain(
      "the certificate's SCTs do not verify with a ctlogs key",
    );
  });

  it('refuses a signature the certificate key did not make, and a key signature with no certificate', async () => {
    const s = await signed(ca, good, {
      annotations: {
        'dev.cosignproject.cosign/signature': (await signed(ca, good)).signatureManifest.layers[0]!.annotations['dev.cosignproject.cosign/signature']!,
      },
    });
    const bad = await verifyCosignSignatures({ ...s, rule: rule({ issuer: ISSUER, subject: 'ci@example.com' }) });
    expect(bad.reason).toContain("does not verify with the certificate's key");
    const plain = await signed(ca, good);
    delete plain.signatureManifest.layers[0]!.annotations['dev.sigstore.cosign/certificate'];
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
    expect(r).not.toHaveProperty('insecureIgnoreTlog');
    const [o] = await resolveVerifyRules(
      [
        {
          match: 'ghcr.io/org/*',
          identity: { issuer: ISSUER, subject: 'ci@example.com' },
          trustedRoot: 'trusted_root.json',
          insecureIgnoreTlog: true,
          insecureIgnoreSct: true,
        },
      ],
      dir,
    );
    expect(o).toMatchObject({ insecureIgnoreTlog: true, insecureIgnoreSct: true });
    await expect(resolveVerifyRules([{ match: 'x/*', identity: { issuer: ISSUER, subject: 'a' } }], dir)).rejects.toMatchObject({ code: 'SPEC_INVALID' });
  });
});
