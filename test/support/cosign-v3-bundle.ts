import { createHash, sign, type KeyObject } from 'node:crypto';
import type { TestRekor } from './test-rekor.ts';

/**
 * A Sigstore bundle in the shape `cosign sign --new-bundle-format` makes for an image
 * (sigstore/cosign cmd/cosign/cli/sign/sign.go, signDigestBundle): a DSSE envelope over an in-toto
 * v1 statement with one subject, the image digest (no name), predicateType
 * https://sigstore.dev/cosign/sign/v1 and an empty predicate; signed with a key (v0.3 bundle, public
 * key hint, no log entry: `--tlog-upload=false`) or with a leaf certificate logged in a test Rekor as
 * a dsse 0.0.1 entry with its SET (v0.1 bundle: the SET is its inclusion promise).
 */
export function cosignV3Bundle(o: {
  digest: string;
  /** A subject name (cosign attest puts the repository there; cosign sign none). */
  name?: string;
  privateKey: KeyObject;
  keyless?: { certPem: string; rekor: TestRekor; integratedTime?: number };
}): Buffer {
  const [algorithm, hex] = o.digest.split(':') as [string, string];
  const statement = {
    _type: 'https://in-toto.io/Statement/v1',
    subject: [{ ...(o.name ? { name: o.name } : {}), digest: { [algorithm]: hex } }],
    predicateType: 'https://sigstore.dev/cosign/sign/v1',
    predicate: {},
  };
  const payloadType = 'application/vnd.in-toto+json';
  const payload = Buffer.from(JSON.stringify(statement));
  // DSSE's pre-authentication encoding (secure-systems-lab/dsse protocol.md).
  const pae = Buffer.concat([Buffer.from(`DSSEv1 ${payloadType.length} ${payloadType} ${payload.length} `), payload]);
  const sig = sign('sha256', pae, o.privateKey).toString('base64');
  const envelope = { payload: payload.toString('base64'), payloadType, signatures: [{ sig, keyid: '' }] };
  if (!o.keyless)
    return Buffer.from(
      JSON.stringify({
        mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json',
        verificationMaterial: { publicKey: { hint: 'test-key' }, tlogEntries: [] },
        dsseEnvelope: envelope,
      }),
    );
  const { certPem, rekor } = o.keyless;
  const der = certPem.replace(/-----(BEGIN|END) CERTIFICATE-----|\s+/g, '');
  const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
  const entry = rekor.logEntry(
    {
      apiVersion: '0.0.1',
      kind: 'dsse',
      spec: {
        envelopeHash: { algorithm: 'sha256', value: sha(JSON.stringify(envelope)) },
        payloadHash: { algorithm: 'sha256', value: sha(payload) },
        signatures: [{ signature: sig, verifier: Buffer.from(certPem).toString('base64') }],
      },
    },
    o.keyless.integratedTime !== undefined ? { integratedTime: o.keyless.integratedTime } : {},
  );
  return Buffer.from(
    JSON.stringify({
      mediaType: 'application/vnd.dev.sigstore.bundle+json;version=0.1',
      verificationMaterial: { x509CertificateChain: { certificates: [{ rawBytes: der }] }, tlogEntries: [entry] },
      dsseEnvelope: envelope,
    }),
  );
}
