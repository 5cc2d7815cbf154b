import { createHash, generateKeyPairSync } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  certificateSctProblem,
  cosignPublicKeyFrom,
  loadCosignPublicKey,
  loadTrustedRoot,
  verifyCosignSignatures,
  verifyImageBundle,
  verifySigstoreBundle,
  type IdentityVerifyRule,
  type KeyVerifyRule,
  type TrustedRoot,
} from '@airgap/core';
import { cosignV3Bundle } from '../support/cosign-v3-bundle.ts';
import { makeTestCa, type TestCa } from '../support/fulcio-ca.ts';
import { makeTestRekor, type TestRekor } from '../support/test-rekor.ts';

const FIXTURES = path.resolve(import.meta.dirname, '../fixtures/cosign');
/** The parts of a bundle JSON the tests alter. */
interface BundleDoc {
  dsseEnvelope: { signatures: { sig: string }[] };
  verificationMaterial: { tlogEntries: { integratedTime: string }[] };
}
const json = async (name: string) => JSON.parse(await readFile(path.join(FIXTURES, name), 'utf8')) as BundleDoc;
const ARTIFACT = Buffer.from('hello, world!');

/** cosign's own test attestation bundle (pkg/cosign/testdata/oci-attestation.sigstore.json): DSSE, in-toto subject 127.0.0.1:60943/repo@sha256:7321…. */
const COSIGN_DIGEST = 'sha256:732112270d7e59418a8c080b134b24cabd67d250d0d0147a97ed95ba5c280aa4';
const COSIGN_REF = '127.0.0.1:60943/repo';

const identityRule = (trustedRoot: TrustedRoot, identity: IdentityVerifyRule['identity']): IdentityVerifyRule => ({
  match: '**',
  identity,
  trustedRoot,
  mode: 'enforce',
});
const b64flip = (s: string) => {
  const b = Buffer.from(s, 'base64');
  b[b.length - 5]! ^= 0x01;
  return b.toString('base64');
};

describe('Sigstore bundles (cosign v3 referrers, @sigstore/verify)', () => {
  it('cosign test data: its OCI attestation bundle verifies for that image digest and repository against the public-good trusted root', async () => {
    const root = await loadTrustedRoot(path.join(FIXTURES, 'cosign-trusted-root-pgi.json'));
    const rule = identityRule(root, { issuer: 'https://github.com/login/oauth', subject: 'cody@soyland.com' });
    const bytes = await readFile(path.join(FIXTURES, 'cosign-oci-attestation.sigstore.json'));
    const r = await verifyImageBundle(bytes, { imageDigest: COSIGN_DIGEST, imageRef: `${COSIGN_REF}:tag`, rule });
    expect(r).toMatchObject({ ok: true, by: 'identity https://github.com/login/oauth cody@soyland.com' });
    expect(r.ok && r.signedAt?.toISOString()).toBe('2025-02-28T19:18:11.000Z');

    // Through verifyCosignSignatures as a referrer: no .sig tag, one bundle; both counted.
    const v = await verifyCosignSignatures({
      imageDigest: COSIGN_DIGEST,
      imageRef: COSIGN_REF,
      signatureManifest: undefined,
      readBlob: () => Promise.reject(new Error('no blobs')),
      sigstoreBundles: [{ digest: 'sha256:bundle', read: () => Promise.resolve(bytes) }],
      rule,
    });
    expect(v).toEqual({ verified: true, by: 'identity https://github.com/login/oauth cody@soyland.com', signatures: 1 });
  });

  it('the same bundle is refused for another digest, another repository, another identity, or with its signature or Rekor entry altered', async () => {
    const root = await loadTrustedRoot(path.join(FIXTURES, 'cosign-trusted-root-pgi.json'));
    const rule = identityRule(root, { issuer: 'https://github.com/login/oauth', subject: 'cody@soyland.com' });
    const doc = await json('cosign-oci-attestation.sigstore.json');
    const check = (d: unknown, over: Partial<{ imageDigest: string; imageRef: string; rule: IdentityVerifyRule }> = {}) =>
      verifyImageBundle(Buffer.from(JSON.stringify(d)), { imageDigest: COSIGN_DIGEST, imageRef: COSIGN_REF, rule, ...over });

    const other = `sha256:${'ab'.repeat(32)}`;
    expect(await check(doc, { imageDigest: other })).toEqual({ ok: false, reason: `signed for ${COSIGN_DIGEST}, the image is ${other}` });
    expect(await check(doc, { imageRef: '127.0.0.1:60943/other' })).toEqual({
      ok: false,
      reason: `signed for 127.0.0.1:60943/repo@${COSIGN_DIGEST}, the image is 127.0.0.1:60943/other`,
    });
    expect(await check(doc, { rule: identityRule(root, { issuer: 'https://github.com/login/oauth', subject: 'someone@example.com' }) })).toEqual({
      ok: false,
      reason: 'the certificate is for subject cody@soyland.com, the rule wants someone@example.com',
    });
    expect(await check(doc, { rule: identityRule(root, { issuer: 'https://token.actions.githubusercontent.com', subjectRegExp: '.*' }) })).toMatchObject({
      ok: false,
      reason: expect.stringContaining('the certificate is for issuer https://github.com/login/oauth'),
    });

    const badSig = structuredClone(doc);
    const s0 = badSig.dsseEnvelope.signatures[0]!;
    s0.sig = b64flip(s0.sig);
    expect(await check(badSig)).toMatchObject({ ok: false, reason: expect.stringMatching(/^the transparency log entry is for another signature/) });

    // The SET signs {body, integratedTime, logIndex, logID}: another integratedTime no longer verifies.
    const badSet = structuredClone(doc);
    const e0 = badSet.verificationMaterial.tlogEntries[0]!;
    e0.integratedTime = String(Number(e0.integratedTime) + 1);
    expect(await check(badSet)).toEqual({
      ok: false,
      reason: `the transparency log entry's signed entry timestamp (SET) does not verify with a tlogs key of ${root.source}`,
    });

    // A trusted root without the Rekor key: the entry cannot be trusted.
    const noTlogs = { ...(root.document as object), tlogs: [] };
    expect(await check(doc, { rule: identityRule({ ...root, document: noTlogs }, rule.identity) })).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/SET|inclusion/),
    });

    // A trusted root without the CT log key: the certificate's SCT does not verify...
    const noCtlogs = { ...(root.document as object), ctlogs: [] };
    expect(await check(doc, { rule: identityRule({ ...root, document: noCtlogs }, rule.identity) })).toMatchObject({
      ok: false,
      reason: expect.stringContaining("the certificate's SCTs do not verify with a ctlogs key"),
    });
  });

  it("a real Fulcio certificate's SCT verifies with the public-good ctlogs key, on its own (the .sig path without a Rekor bundle), and not without it", async () => {
    const root = await loadTrustedRoot(path.join(FIXTURES, 'cosign-trusted-root-pgi.json'));
    const der = (
      JSON.parse(await readFile(path.join(FIXTURES, 'cosign-oci-attestation.sigstore.json'), 'utf8')) as {
        verificationMaterial: { certificate: { rawBytes: string } };
      }
    ).verificationMaterial.certificate.rawBytes;
    const pem = `-----BEGIN CERTIFICATE-----\n${der.replace(/(.{64})/g, '$1\n')}\n-----END CERTIFICATE-----\n`;
    expect(await certificateSctProblem(pem, undefined, root)).toBeUndefined();
    const noCtlogs = { ...root, document: { ...(root.document as object), ctlogs: [] } };
    expect(await certificateSctProblem(pem, undefined, noCtlogs)).toMatch(
      /^the certificate's SCTs do not verify with a ctlogs key of .*cosign-trusted-root-pgi.json/,
    );
    // A trusted root without the Fulcio CA that issued it.
    const noCa = { ...root, document: { ...(root.document as object), certificateAuthorities: [] } };
    expect(await certificateSctProblem(pem, undefined, noCa)).toBe(`the certificate's issuer is not in ${root.source}`);
  });

  it('sigstore-js vectors: messageSignature bundles with a certificate and with a key verify over their artifact; a wrong key, artifact or identity is refused', async () => {
    const root = await loadTrustedRoot(path.join(FIXTURES, 'sigstore-js-trusted-root.json'));
    const cert = await json('sigstore-js-bundle-v1-message-cert.json');
    const keyed = await json('sigstore-js-bundle-v1-message-key.json');
    const rule = identityRule(root, { issuer: 'https://github.com/login/oauth', subject: 'brian@dehamer.com' });
    expect(await verifySigstoreBundle(cert, rule, ARTIFACT)).toMatchObject({ ok: true, by: 'identity https://github.com/login/oauth brian@dehamer.com' });
    expect(await verifySigstoreBundle(cert, rule, Buffer.from('hello, world?'))).toMatchObject({ ok: false });
    expect(
      await verifySigstoreBundle(cert, identityRule(root, { issuer: 'https://github.com/login/oauth', subjectRegExp: 'brian@.*\\.org' }), ARTIFACT),
    ).toEqual({
      ok: false,
      reason: 'the certificate is for subject brian@dehamer.com, the rule wants /brian@.*\\.org/',
    });

    const key = await loadCosignPublicKey(path.join(FIXTURES, 'sigstore-js-key.pub'));
    const wrong = await loadCosignPublicKey(path.join(FIXTURES, 'cosign-test.pub'));
    const keyRule = (k: typeof key): KeyVerifyRule => ({ match: '**', key: k, mode: 'enforce' });
    expect(await verifySigstoreBundle(keyed, keyRule(key), ARTIFACT)).toEqual({ ok: true, by: `key ${key.fingerprint}` });
    expect(await verifySigstoreBundle(keyed, keyRule(wrong), ARTIFACT)).toEqual({
      ok: false,
      reason: `the signature does not verify with key ${wrong.fingerprint}`,
    });
    expect(await verifySigstoreBundle(cert, keyRule(key), ARTIFACT)).toEqual({
      ok: false,
      reason: `the bundle is signed with a certificate, the rule wants key ${key.fingerprint}`,
    });
    expect(await verifySigstoreBundle(keyed, rule, ARTIFACT)).toMatchObject({ ok: false, reason: expect.stringContaining('the bundle is signed with a key') });
  });

  it('as an image signature, a bundle must be a DSSE in-toto statement: a messageSignature or a text/plain DSSE payload is refused', async () => {
    const root = await loadTrustedRoot(path.join(FIXTURES, 'sigstore-js-trusted-root.json'));
    const rule = identityRule(root, { issuer: 'https://github.com/login/oauth', subject: 'brian@dehamer.com' });
    const input = { imageDigest: COSIGN_DIGEST, imageRef: COSIGN_REF, rule };
    const message = await readFile(path.join(FIXTURES, 'sigstore-js-bundle-v1-message-cert.json'));
    expect(await verifyImageBundle(message, input)).toEqual({
      ok: false,
      reason: 'the bundle is a messageSignature over a blob, not a DSSE statement about an image',
    });
    const dsse = await readFile(path.join(FIXTURES, 'sigstore-js-bundle-v1-dsse-cert.json'));
    expect(await verifySigstoreBundle(JSON.parse(dsse.toString()), rule)).toMatchObject({ ok: true });
    expect(await verifyImageBundle(dsse, input)).toEqual({
      ok: false,
      reason: 'the DSSE payload is text/plain, not an in-toto statement (application/vnd.in-toto+json)',
    });
    expect(await verifyImageBundle(Buffer.from('{"mediaType":"application/json"}'), input)).toEqual({
      ok: false,
      reason: 'not a Sigstore bundle (mediaType "application/json")',
    });
    expect(await verifyImageBundle(Buffer.from('nope'), input)).toEqual({ ok: false, reason: 'the bundle is not JSON' });
  });

  it('verifyCosignSignatures names what it tried when neither the .sig tag nor a bundle verifies', async () => {
    const root = await loadTrustedRoot(path.join(FIXTURES, 'cosign-trusted-root-pgi.json'));
    const bytes = await readFile(path.join(FIXTURES, 'cosign-oci-attestation.sigstore.json'));
    const other = `sha256:${'cd'.repeat(32)}`;
    const v = await verifyCosignSignatures({
      imageDigest: other,
      imageRef: COSIGN_REF,
      signatureManifest: undefined,
      readBlob: () => Promise.reject(new Error('no blobs')),
      sigstoreBundles: [
        { digest: 'sha256:b1', read: () => Promise.resolve(bytes) },
        { digest: 'sha256:b2', read: () => Promise.reject(new Error('HTTP 404')) },
      ],
      rule: identityRule(root, { issuer: 'https://github.com/login/oauth', subject: 'cody@soyland.com' }),
    });
    expect(v).toEqual({
      verified: false,
      signatures: 2,
      reason:
        `no signature: the repository has no tag ${other.replace(':', '-')}.sig; 2 Sigstore bundle(s) among the referrers, none valid for identity https://github.com/login/oauth cody@soyland.com: ` +
        `sha256:b1: signed for ${COSIGN_DIGEST}, the image is ${other}; sha256:b2: cannot read it: HTTP 404`,
    });
  });
});

describe("bundles made here in cosign v3's layout (sign --new-bundle-format): DSSE in-toto sign/v1 statement over the image digest", () => {
  const DIGEST = `sha256:${'ab'.repeat(32)}`;
  const REF = 'registry.example.com/apps/web:1';
  let dir: string;
  let ca: TestCa;
  let rekor: TestRekor;
  let root: TrustedRoot;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'airgap-bundle-'));
    ca = await makeTestCa(path.join(dir, 'ca'));
    rekor = makeTestRekor();
    await writeFile(path.join(dir, 'trusted_root.json'), rekor.addTo(ca.trustedRootJson));
    root = await loadTrustedRoot(path.join(dir, 'trusted_root.json'));
  }, 60_000);
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('a key-signed bundle (no log entry) verifies for its digest with the key, not for another digest nor with another key', async () => {
    const pair = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const key = cosignPublicKeyFrom(pair.publicKey.export({ type: 'spki', format: 'pem' }), 'test');
    const other = cosignPublicKeyFrom(generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey.export({ type: 'spki', format: 'pem' }), 'other');
    const bytes = cosignV3Bundle({ digest: DIGEST, privateKey: pair.privateKey });
    const rule = (k: typeof key): KeyVerifyRule => ({ match: '**', key: k, mode: 'enforce' });
    expect(await verifyImageBundle(bytes, { imageDigest: DIGEST, imageRef: REF, rule: rule(key) })).toMatchObject({ ok: true, by: `key ${key.fingerprint}` });
    const another = `sha256:${'ef'.repeat(32)}`;
    expect(await verifyImageBundle(bytes, { imageDigest: another, imageRef: REF, rule: rule(key) })).toEqual({
      ok: false,
      reason: `signed for ${DIGEST}, the image is ${another}`,
    });
    expect(await verifyImageBundle(bytes, { imageDigest: DIGEST, imageRef: REF, rule: rule(other) })).toEqual({
      ok: false,
      reason: `the signature does not verify with key ${other.fingerprint}`,
    });
    // The statement rewritten to name another digest, the signature kept: refused by the signature.
    const doc = JSON.parse(bytes.toString()) as { dsseEnvelope: { payload: string } };
    doc.dsseEnvelope.payload = Buffer.from(Buffer.from(doc.dsseEnvelope.payload, 'base64').toString().replace('ab'.repeat(32), 'ef'.repeat(32))).toString(
      'base64',
    );
    expect(await verifyImageBundle(Buffer.from(JSON.stringify(doc)), { imageDigest: another, imageRef: REF, rule: rule(key) })).toEqual({
      ok: false,
      reason: `the signature does not verify with key ${key.fingerprint}`,
    });
    // A subject name of another repository.
    const named = cosignV3Bundle({ digest: DIGEST, privateKey: pair.privateKey, name: 'registry.example.com/apps/other' });
    expect(await verifyImageBundle(named, { imageDigest: DIGEST, imageRef: REF, rule: rule(key) })).toEqual({
      ok: false,
      reason: `signed for registry.example.com/apps/other@${DIGEST}, the image is registry.example.com/apps/web`,
    });
  });

  it('verifyCosignSignatures: a .sig layer that fails and a bundle that verifies is verified, both counted', async () => {
    const pair = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const key = cosignPublicKeyFrom(pair.publicKey.export({ type: 'spki', format: 'pem' }), 'test');
    const payload = Buffer.from('{}');
    const digest = `sha256:${createHash('sha256').update(payload).digest('hex')}`;
    const v = await verifyCosignSignatures({
      imageDigest: DIGEST,
      imageRef: REF,
      signatureManifest: {
        layers: [
          { mediaType: 'application/vnd.dev.cosign.simplesigning.v1+json', digest, size: 2, annotations: { 'dev.cosignproject.cosign/signature': 'AAAA' } },
        ],
      },
      readBlob: () => Promise.resolve(payload),
      sigstoreBundles: [{ digest: 'sha256:b', read: () => Promise.resolve(cosignV3Bundle({ digest: DIGEST, privateKey: pair.privateKey })) }],
      rule: { match: '**', key, mode: 'enforce' },
    });
    expect(v).toEqual({ verified: true, by: `key ${key.fingerprint}`, signatures: 2 });
  });

  it('a keyless bundle logged in the trusted Rekor verifies (SCTs opted out: the test CA has none); an unknown log, no opt-out or another identity is refused', async () => {
    const leaf = await ca.leaf({ issuer: 'https://accounts.example.com', san: 'email:ci@example.com' });
    const bytes = cosignV3Bundle({ digest: DIGEST, privateKey: leaf.privateKey, keyless: { certPem: leaf.certPem, rekor } });
    const rule = (o: Partial<IdentityVerifyRule> = {}): IdentityVerifyRule => ({
      ...identityRule(root, { issuer: 'https://accounts.example.com', subject: 'ci@example.com' }),
      insecureIgnoreSct: true,
      ...o,
    });
    const input = { imageDigest: DIGEST, imageRef: REF };
    const ok = await verifyImageBundle(bytes, { ...input, rule: rule() });
    expect(ok).toMatchObject({ ok: true, by: 'identity https://accounts.example.com ci@example.com (no SCT check)' });
    expect(await verifyImageBundle(bytes, { ...input, rule: rule({ insecureIgnoreSct: false }) })).toMatchObject({
      ok: false,
      reason: expect.stringContaining("the certificate's SCTs do not verify with a ctlogs key"),
    });
    const elsewhere = cosignV3Bundle({ digest: DIGEST, privateKey: leaf.privateKey, keyless: { certPem: leaf.certPem, rekor: makeTestRekor() } });
    expect(await verifyImageBundle(elsewhere, { ...input, rule: rule() })).toEqual({
      ok: false,
      reason: `the transparency log entry's signed entry timestamp (SET) does not verify with a tlogs key of ${root.source}`,
    });
    expect(await verifyImageBundle(bytes, { ...input, rule: rule({ identity: { issuer: 'https://accounts.example.com', subjectRegExp: 'ops@.*' } }) })).toEqual(
      { ok: false, reason: 'the certificate is for subject ci@example.com, the rule wants /ops@.*/' },
    );
  });
});
