import { createHash, verify, type KeyObject } from 'node:crypto';
import { checkKeylessCertificate } from './keyless.ts';
import { canonicalRepository, readPayloadClaims, SIGNATURE_ANNOTATION, SIMPLE_SIGNING_TYPE } from './simple-signing.ts';
import type { VerifyInput, VerifyResult, VerifyRule } from './types.ts';

/** A payload is a few hundred bytes; a bigger "payload" layer is not one. */
const MAX_PAYLOAD_BYTES = 256 * 1024;

/** `sha256-<hex>.sig` for `sha256:<hex>`: where cosign stores an image's signatures (sigstore/cosign pkg/oci/remote/options.go, SignatureTagSuffix). */
export function cosignSignatureTag(digest: string): string {
  return `${digest.replace(':', '-')}.sig`;
}

/**
 * Does a signature in the image's `.sig` manifest verify with the rule's key, over a payload that
 * names this digest and this repository? Each layer is one signature (cosign appends a layer per
 * `cosign sign`); one that verifies is enough. The signature is checked before the payload is
 * read, so nothing unsigned is believed. A Rekor bundle annotation is not needed for a key. For an
 * identity rule the key is the layer's Fulcio certificate's, once it passes `checkKeylessCertificate`
 * (keyless.ts: chain to the trusted root, issuer, subject; no transparency log check).
 */
export async function verifyCosignSignatures(input: VerifyInput): Promise<VerifyResult> {
  const tag = cosignSignatureTag(input.imageDigest);
  const by = describeRule(input.rule);
  if (input.signatureManifest === undefined) return { verified: false, reason: `no signature: the repository has no tag ${tag}`, signatures: 0 };
  const layers = layersOf(input.signatureManifest);
  if (!layers) return { verified: false, reason: `${tag} is not an image manifest with layers`, signatures: 0 };
  const signed = layers.filter((l) => l.mediaType === SIMPLE_SIGNING_TYPE);
  if (signed.length === 0) return { verified: false, reason: `${tag} has ${layers.length} layer(s), none of type ${SIMPLE_SIGNING_TYPE}`, signatures: 0 };

  const reasons: string[] = [];
  for (const [i, layer] of signed.entries()) {
    const r = await checkLayer(input, layer);
    if (r.ok) return { verified: true, by: r.by, signatures: signed.length };
    reasons.push(`signature ${i + 1}: ${r.reason}`);
  }
  return { verified: false, reason: `${signed.length} signature(s) in ${tag}, none valid for ${by}: ${reasons.join('; ')}`, signatures: signed.length };
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
  if (`sha256:${createHash('sha256').update(payload).digest('hex')}` !== layer.digest) return `the payload does not hash to ${layer.digest}`;
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
