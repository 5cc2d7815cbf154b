import { createHash, verify, type KeyObject } from 'node:crypto';
import { BUNDLE_ANNOTATION, CERTIFICATE_ANNOTATION, CHAIN_ANNOTATION, checkKeylessCertificate } from './keyless.ts';
import { certificateSctProblem, legacyLayerBundle, optOuts, verifyImageBundle, verifySigstoreBundle } from './sigstore-bundle.ts';
import { canonicalRepository, readPayloadClaims, SIGNATURE_ANNOTATION, SIMPLE_SIGNING_TYPE } from './simple-signing.ts';
import type { VerifyInput, VerifyResult, VerifyRule } from './types.ts';

/** A payload is a few hundred bytes; a bigger "payload" layer is not one. */
const MAX_PAYLOAD_BYTES = 256 * 1024;

/** The artifactType cosign gives a signature it stores as an OCI 1.1 referrer (`cosign sign --registry-referrers-mode=oci-1-1`, sigstore/cosign pkg/oci/remote/write.go). */
export const COSIGN_SIG_ARTIFACT = 'application/vnd.dev.cosign.artifact.sig.v1+json';

/** `sha256-<hex>.sig` for `sha256:<hex>`: where cosign stores an image's signatures (sigstore/cosign pkg/oci/remote/options.go, SignatureTagSuffix). */
export function cosignSignatureTag(digest: string): string {
  return `${digest.replace(':', '-')}.sig`;
}

/**
 * Does a signature of the image verify with the rule: a layer of its `.sig` manifest (cosign's
 * legacy layout), or a Sigstore bundle among its referrers (cosign v3, sigstore-bundle.ts)? Each
 * `.sig` layer is one signature (cosign appends a layer per `cosign sign`); one that verifies is
 * enough. The signature is checked before the payload is read, so nothing unsigned is believed. A
 * Rekor entry is not checked for a key. For an identity rule the layer's Fulcio certificate must pass
 * `checkKeylessCertificate` (keyless.ts) and, with its Rekor bundle annotation, the checks of a
 * Sigstore bundle: SET against the trusted root's tlogs, SCTs against its ctlogs, the chain at the
 * verified integratedTime (unless the rule opts out with insecureIgnoreTlog / insecureIgnoreSct).
 */
export async function verifyCosignSignatures(input: VerifyInput): Promise<VerifyResult> {
  const tag = cosignSignatureTag(input.imageDigest);
  const by = describeRule(input.rule);
  const bundles = input.sigstoreBundles ?? [];
  const reasons: string[] = [];
  let legacy = 0;
  if (input.signatureManifest === undefined) reasons.push(`no signature: the repository has no tag ${tag}`);
  else {
    const layers = layersOf(input.signatureManifest);
    const signed = (layers ?? []).filter((l) => l.mediaType === SIMPLE_SIGNING_TYPE);
    legacy = signed.length;
    if (!layers) reasons.push(`${tag} is not an image manifest with layers`);
    else if (signed.length === 0) reasons.push(`${tag} has ${layers.length} layer(s), none of type ${SIMPLE_SIGNING_TYPE}`);
    const why: string[] = [];
    for (const [i, layer] of signed.entries()) {
      const r = await checkLayer(input, layer);
      if (r.ok) return { verified: true, by: r.by, signatures: signed.length + bundles.length };
      why.push(`signature ${i + 1}: ${r.reason}`);
    }
    if (signed.length > 0) reasons.push(`${signed.length} signature(s) in ${tag}, none valid for ${by}: ${why.join('; ')}`);
  }
  const total = legacy + bundles.length;
  if (bundles.length > 0) {
    const why: string[] = [];
    for (const b of bundles) {
      let bytes: Buffer;
      try {
        bytes = await b.read();
      } catch (err) {
        why.push(`${b.digest}: cannot read it: ${(err as Error).message}`);
        continue;
      }
      const r = await verifyImageBundle(bytes, input);
      if (r.ok) return { verified: true, by: r.by, signatures: total };
      why.push(`${b.digest}: ${r.reason}`);
    }
    reasons.push(`${bundles.length} Sigstore bundle(s) among the referrers, none valid for ${by}: ${why.join('; ')}`);
  } else if (input.sigstoreBundles !== undefined) reasons.push('no Sigstore bundle among the referrers');
  if (total === 0 && input.signatureManifest === undefined && input.sigstoreBundles === undefined)
    return { verified: false, reason: reasons[0], signatures: 0 };
  return { verified: false, reason: reasons.join('; '), signatures: total };
}

interface Layer {
  mediaType?: unknown;
  digest?: unknown;
  size?: unknown;
  annotations?: Record<string, unknown>;
}

/** What a rule wants, as messages and the manifest name it: `key sha256:<hex>` or `identity <issuer> <subject>`. */
export function describeRule(rule: VerifyRule): string {
  if (rule.key) return `key ${rule.key.fingerprint}`;
  return `identity ${rule.identity.issuer} ${rule.identity.subject ?? `/${rule.identity.subjectRegExp ?? ''}/`}`;
}

/** `by` when the layer is a good signature; else why not. */
async function checkLayer(input: VerifyInput, layer: Layer): Promise<{ ok: true; by: string } | { ok: false; reason: string }> {
  const why = await layerProblem(input, layer);
  return typeof why === 'string' ? { ok: false, reason: why } : { ok: true, by: why.by };
}

async function layerProblem(input: VerifyInput, layer: Layer): Promise<string | { by: string }> {
  const sig = layer.annotations?.[SIGNATURE_ANNOTATION];
  if (typeof sig !== 'string' || sig === '') return `no ${SIGNATURE_ANNOTATION} annotation`;
  let key: KeyObject;
  let by: string;
  if (input.rule.key) {
    key = input.rule.key.key;
    by = `key ${input.rule.key.fingerprint}`;
  } else {
    const cert = checkKeylessCertificate(layer.annotations, input.rule);
    if (!cert.ok) return cert.reason;
    ({ key, by } = cert);
  }
  if (typeof layer.digest !== 'string' || !/^sha256:[a-f0-9]{64}$/.test(layer.digest)) return 'the payload layer has no sha256 digest';
  if (typeof layer.size === 'number' && layer.size > MAX_PAYLOAD_BYTES) return `the payload layer is ${layer.size} bytes`;
  let payload: Buffer;
  try {
    payload = await input.readBlob(layer.digest);
  } catch (err) {
    return `cannot read payload ${layer.digest}: ${(err as Error).message}`;
  }
  if (payload.length > MAX_PAYLOAD_BYTES) return `the payload is ${payload.length} bytes`;
  const sha = createHash('sha256').update(payload).digest();
  if (`sha256:${sha.toString('hex')}` !== layer.digest) return `the payload does not hash to ${layer.digest}`;
  if (input.rule.identity) {
    const rekor = layer.annotations?.[BUNDLE_ANNOTATION];
    if (typeof rekor === 'string' && rekor !== '') {
      const chain = layer.annotations?.[CHAIN_ANNOTATION];
      const doc = legacyLayerBundle({
        rekorBundle: rekor,
        certificatePem: layer.annotations![CERTIFICATE_ANNOTATION] as string,
        ...(typeof chain === 'string' ? { chainPem: chain } : {}),
        signature: sig,
        payloadSha256: sha,
      });
      if (typeof doc === 'string') return doc;
      const r = await verifySigstoreBundle(doc, input.rule, payload);
      if (!r.ok) return r.reason;
      by = r.by;
    } else if (!input.rule.insecureIgnoreTlog) {
      return `no ${BUNDLE_ANNOTATION} annotation: the signature has no Rekor entry (the rule may accept that with insecureIgnoreTlog: true)`;
    } else {
      if (!input.rule.insecureIgnoreSct) {
        const chain = layer.annotations?.[CHAIN_ANNOTATION];
        const sct = await certificateSctProblem(
          layer.annotations![CERTIFICATE_ANNOTATION] as string,
          typeof chain === 'string' ? chain : undefined,
          input.rule.trustedRoot,
        );
        if (sct !== undefined) return sct;
      }
      by = `${by}${optOuts(input.rule)}`;
    }
  }
  // ASN.1 DER ECDSA over SHA-256 of the payload bytes, base64 (sigstore/sigstore pkg/signature/ecdsa.go).
  const raw = Buffer.from(sig, 'base64');
  let good = false;
  try {
    good = verify('sha256', payload, key, raw);
  } catch {
    good = false;
  }
  if (!good) return input.rule.key ? `the signature does not verify with ${by}` : `the signature does not verify with the certificate's key (${by})`;
  const claims = readPayloadClaims(payload);
  if (!claims.ok) return claims.reason;
  if (claims.digest !== input.imageDigest) return `signed for digest ${claims.digest}, the image is ${input.imageDigest}`;
  const want = canonicalRepository(input.imageRef);
  if (canonicalRepository(claims.reference) !== want) return `signed for ${claims.reference || '(no reference)'}, the image is ${want}`;
  return { by };
}

function layersOf(doc: unknown): Layer[] | undefined {
  if (typeof doc !== 'object' || doc === null) return undefined;
  const layers = (doc as { layers?: unknown }).layers;
  if (!Array.isArray(layers)) return undefined;
  return layers.filter((l): l is Layer => typeof l === 'object' && l !== null);
}
