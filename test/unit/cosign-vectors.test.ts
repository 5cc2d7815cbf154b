import { createHash, generateKeyPairSync, sign } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  canonicalRepository,
  cosignPublicKeyFrom,
  cosignSignatureTag,
  loadCosignPublicKey,
  matchVerifyRule,
  readPayloadClaims,
  verifyCosignSignatures,
  type CosignPublicKey,
  type VerifyInput,
} from '@airgap/core';

const FIXTURES = path.resolve(import.meta.dirname, '../fixtures/cosign');
const fixture = (name: string) => readFile(path.join(FIXTURES, name));
const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const SIMPLE = 'application/vnd.dev.cosign.simplesigning.v1+json';

/** A `.sig` manifest in cosign's layout over these payloads and base64 signatures, with a blob store for them. */
function sigManifest(layers: { payload: Buffer; signature: string }[]): Pick<VerifyInput, 'signatureManifest' | 'readBlob'> {
  const blobs = new Map(layers.map((l) => [sha(l.payload), l.payload]));
  return {
    signatureManifest: {
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha(Buffer.from('{}')), size: 2 },
      layers: layers.map((l) => ({
        mediaType: SIMPLE,
        digest: sha(l.payload),
        size: l.payload.length,
        annotations: { 'dev.cosignproject.cosign/signature': l.signature },
      })),
    },
    readBlob: (d) => {
      const b = blobs.get(d);
      return b ? Promise.resolve(b) : Promise.reject(new Error(`no blob ${d}`));
    },
  };
}

const rule = (key: CosignPublicKey) => ({ match: 'docker.io/namespace/*', key, mode: 'enforce' as const });

describe('real sigstore output: the ECDSA P-256 signature primitive cosign uses', () => {
  // sigstore-js packages/verify/src/__tests__/__fixtures__/bundles.ts: V1.MESSAGE_SIGNATURE.WITH_PUBLIC_KEY
  // signs ARTIFACT ('hello, world!') with PUBLIC_KEY's private half: base64 ASN.1 ECDSA over SHA-256,
  // the same encoding cosign writes into the dev.cosignproject.cosign/signature annotation.
  it('accepts the signature with its key (then reads the bytes as a payload: not JSON)', async () => {
    const key = await loadCosignPublicKey(path.join(FIXTURES, 'sigstore-js-key.pub'));
    const payload = await fixture('sigstore-js-artifact.txt');
    const signature = (await fixture('sigstore-js-artifact.sig')).toString('utf8');
    const r = await verifyCosignSignatures({
      imageDigest: `sha256:${'a'.repeat(64)}`,
      imageRef: 'docker.io/namespace/image:1',
      rule: rule(key),
      ...sigManifest([{ payload, signature }]),
    });
    // The signature verified: what stops it is the claim check that follows.
    expect(r).toEqual({ verified: false, signatures: 1, reason: expect.stringContaining('signature 1: the payload is not JSON') as unknown });
  });

  it('refuses the same signature over tampered bytes and under another key', async () => {
    const key = await loadCosignPublicKey(path.join(FIXTURES, 'sigstore-js-key.pub'));
    const other = await loadCosignPublicKey(path.join(FIXTURES, 'cosign-test.pub'));
    const payload = await fixture('sigstore-js-artifact.txt');
    const signature = (await fixture('sigstore-js-artifact.sig')).toString('utf8');
    const base = { imageDigest: `sha256:${'a'.repeat(64)}`, imageRef: 'docker.io/namespace/image:1' };
    const tampered = await verifyCosignSignatures({ ...base, rule: rule(key), ...sigManifest([{ payload: Buffer.from('hello, world?'), signature }]) });
    expect(tampered.verified).toBe(false);
    expect(tampered.reason).toContain(`the signature does not verify with key ${key.fingerprint}`);
    const wrongKey = await verifyCosignSignatures({ ...base, rule: rule(other), ...sigManifest([{ payload, signature }]) });
    expect(wrongKey.verified).toBe(false);
    expect(wrongKey.reason).toContain(`does not verify with key ${other.fingerprint}`);
  });

  it("reads cosign's own test key (.github/workflows/cosign-test.pub) and fingerprints the SPKI DER", async () => {
    const pem = await fixture('cosign-test.pub');
    const key = await loadCosignPublicKey(path.join(FIXTURES, 'cosign-test.pub'));
    const der = Buffer.from(pem.toString('utf8').replace(/-----[A-Z ]+-----|\s/g, ''), 'base64');
    expect(key.fingerprint).toBe(sha(der));
  });
});

describe("cosign's simple-signing payload (pkg/cosign/obsolete_test.go pins its exact bytes)", () => {
  const digest = 'sha256:4aa3054270f7a70b4528f2064ee90961788e1e1518703592ae4463de3b889dec';
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const key = cosignPublicKeyFrom(publicKey.export({ type: 'spki', format: 'pem' }), 'test key');
  const signed = (payload: Buffer) => ({ payload, signature: sign('sha256', payload, privateKey).toString('base64') });

  it('reads the claims: digest and index.docker.io reference', async () => {
    expect(readPayloadClaims(await fixture('cosign-payload-index-docker-io.txt'))).toEqual({ ok: true, digest, reference: 'index.docker.io/namespace/image' });
  });

  it('accepts it for the image it names (index.docker.io is docker.io), by tag or digest', async () => {
    const payload = await fixture('cosign-payload-index-docker-io.txt');
    for (const imageRef of ['docker.io/namespace/image:1.0', `docker.io/namespace/image@${digest}`]) {
      const r = await verifyCosignSignatures({ imageDigest: digest, imageRef, rule: rule(key), ...sigManifest([signed(payload)]) });
      expect(r).toEqual({ verified: true, by: `key ${key.fingerprint}`, signatures: 1 });
    }
  });

  it('refuses a wrong digest, another repository, a tampered payload and a missing tag, saying which', async () => {
    const payload = await fixture('cosign-payload-index-docker-io.txt');
    const otherDigest = `sha256:${'b'.repeat(64)}`;
    const cases: [Partial<VerifyInput>, string][] = [
      [{ imageDigest: otherDigest, ...sigManifest([signed(payload)]) }, `signed for digest ${digest}, the image is ${otherDigest}`],
      [
        { imageRef: 'docker.io/other/image:1.0', ...sigManifest([signed(payload)]) },
        'signed for index.docker.io/namespace/image, the image is docker.io/other/image',
      ],
      [{ ...sigManifest([{ ...signed(payload), payload: Buffer.from(payload.toString().replace('4aa3', '4aa4')) }]) }, 'does not verify'],
      [{ signatureManifest: undefined }, `no signature: the repository has no tag sha256-${digest.slice(7)}.sig`],
    ];
    for (const [change, reason] of cases) {
      const r = await verifyCosignSignatures({
        imageDigest: digest,
        imageRef: 'docker.io/namespace/image:1.0',
        rule: rule(key),
        ...sigManifest([signed(payload)]),
        ...change,
      });
      expect(r.verified, reason).toBe(false);
      expect(r.reason).toContain(reason);
    }
  });

  it('one good signature among bad ones is enough; none good lists each', async () => {
    const payload = await fixture('cosign-payload-index-docker-io.txt');
    const bad = { payload, signature: Buffer.from('nope').toString('base64') };
    const base = { imageDigest: digest, imageRef: 'docker.io/namespace/image:1.0', rule: rule(key) };
    expect(await verifyCosignSignatures({ ...base, ...sigManifest([bad, signed(payload)]) })).toMatchObject({ verified: true, signatures: 2 });
    const none = await verifyCosignSignatures({ ...base, ...sigManifest([bad, bad]) });
    expect(none.signatures).toBe(2);
    expect(none.reason).toMatch(/signature 1: .*; signature 2: /);
  });
});

describe('rules and names', () => {
  it('matches globs: * stops at /, ** does not, a bare name matches any tag', () => {
    const rules = [{ match: 'ghcr.io/canonical/*' }, { match: 'registry.k8s.io/**' }, { match: 'docker.io/library/nginx:1.27' }];
    expect(matchVerifyRule('ghcr.io/canonical/pause:3.10', rules)).toBe(rules[0]);
    expect(matchVerifyRule('ghcr.io/canonical/k8s-snap/pause:3.10', rules)).toBeUndefined();
    expect(matchVerifyRule('registry.k8s.io/sig-storage/csi:1', rules)).toBe(rules[1]);
    expect(matchVerifyRule('docker.io/library/nginx:1.27', rules)).toBe(rules[2]);
    expect(matchVerifyRule('docker.io/library/nginx:1.28', rules)).toBeUndefined();
  });

  it('canonical repositories, and the tag scheme', () => {
    expect(canonicalRepository('index.docker.io/library/nginx')).toBe('docker.io/library/nginx');
    expect(canonicalRepository('nginx')).toBe('docker.io/library/nginx');
    expect(canonicalRepository('127.0.0.1:5000/a/b:1')).toBe('127.0.0.1:5000/a/b');
    expect(cosignSignatureTag(`sha256:${'c'.repeat(64)}`)).toBe(`sha256-${'c'.repeat(64)}.sig`);
  });

  it('refuses keys that are not ECDSA P-256', () => {
    const { publicKey } = generateKeyPairSync('ed25519');
    expect(() => cosignPublicKeyFrom(publicKey.export({ type: 'spki', format: 'pem' }), 'x.pub')).toThrow(
      /x.pub is a ed25519 key; images.verify takes ECDSA P-256/,
    );
  });
});
