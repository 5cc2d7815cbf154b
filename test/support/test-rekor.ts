import { createHash, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';

/**
 * A stand-in for Rekor: an ECDSA P-256 log key that signs entries the way Rekor's signed entry
 * timestamp does (an ECDSA-SHA256 signature over the canonical JSON of {body, integratedTime,
 * logID, logIndex}; sigstore/rekor pkg/api/entries.go, verified as in sigstore/cosign
 * pkg/cosign/verify.go VerifyBundle), and the tlogs entry of a trusted_root.json for its key.
 */
export interface TestRekor {
  /** `sha256` of the key's SPKI DER, hex: Rekor's logID. */
  logId: string;
  /** Add this log to a trusted_root.json's tlogs. */
  addTo(trustedRootJson: string): string;
  /** Log an entry body (a Rekor kind's JSON): its base64 body and SET, as a bundle's v0.1 tlogEntries[] item. */
  logEntry(body: object, o?: { integratedTime?: number; logIndex?: number }): TlogEntryJson;
  /** cosign's `dev.sigstore.cosign/bundle` annotation for a hashedrekord entry of this signature. */
  bundleAnnotation(o: { payload: Buffer; signature: string; certPem: string; integratedTime?: number; logIndex?: number }): string;
}

/** A transparency log entry as protobuf-specs JSON (a bundle's verificationMaterial.tlogEntries[]). */
export interface TlogEntryJson {
  logIndex: string;
  logId: { keyId: string };
  kindVersion: { kind: string; version: string };
  integratedTime: string;
  inclusionPromise: { signedEntryTimestamp: string };
  canonicalizedBody: string;
}

export function makeTestRekor(): TestRekor {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const der = publicKey.export({ type: 'spki', format: 'der' });
  const logId = createHash('sha256').update(der).digest('hex');
  return {
    logId,
    addTo(json) {
      const root = JSON.parse(json) as { tlogs?: unknown[] };
      root.tlogs = [
        ...(root.tlogs ?? []),
        {
          baseUrl: 'https://rekor.test.example',
          hashAlgorithm: 'SHA2_256',
          publicKey: { rawBytes: der.toString('base64'), keyDetails: 'PKIX_ECDSA_P256_SHA_256', validFor: { start: '2020-01-01T00:00:00Z' } },
          logId: { keyId: Buffer.from(logId, 'hex').toString('base64') },
        },
      ];
      return JSON.stringify(root);
    },
    logEntry(bodyDoc, o = {}) {
      const body = Buffer.from(JSON.stringify(bodyDoc)).toString('base64');
      const integratedTime = o.integratedTime ?? Math.floor(Date.now() / 1000);
      const logIndex = o.logIndex ?? 1;
      const doc = bodyDoc as { kind?: string; apiVersion?: string };
      return {
        logIndex: String(logIndex),
        logId: { keyId: Buffer.from(logId, 'hex').toString('base64') },
        kindVersion: { kind: doc.kind ?? '', version: doc.apiVersion ?? '' },
        integratedTime: String(integratedTime),
        inclusionPromise: { signedEntryTimestamp: signEntry(privateKey, { body, integratedTime, logID: logId, logIndex }) },
        canonicalizedBody: body,
      };
    },
    bundleAnnotation(o) {
      const body = Buffer.from(
        JSON.stringify({
          apiVersion: '0.0.1',
          kind: 'hashedrekord',
          spec: {
            data: { hash: { algorithm: 'sha256', value: createHash('sha256').update(o.payload).digest('hex') } },
            signature: { content: o.signature, publicKey: { content: Buffer.from(o.certPem).toString('base64') } },
          },
        }),
      ).toString('base64');
      const integratedTime = o.integratedTime ?? Math.floor(Date.now() / 1000);
      const logIndex = o.logIndex ?? 1;
      const set = signEntry(privateKey, { body, integratedTime, logID: logId, logIndex });
      return JSON.stringify({ SignedEntryTimestamp: set, Payload: { body, integratedTime, logIndex, logID: logId } });
    },
  };
}

/** The SET: keys in sorted order, no spaces (RFC 8785 for these plain values). */
function signEntry(key: KeyObject, p: { body: string; integratedTime: number; logID: string; logIndex: number }): string {
  const canonical = JSON.stringify({ body: p.body, integratedTime: p.integratedTime, logID: p.logID, logIndex: p.logIndex });
  return sign('sha256', Buffer.from(canonical), key).toString('base64');
}
