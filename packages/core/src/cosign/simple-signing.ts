/**
 * cosign's signed payload ("simple signing", sigstore/cosign specs/SIGNATURE_SPEC.md "Payloads";
 * the type is sigstore/sigstore pkg/signature/payload/payload.go, which cosign marshals):
 * `{"critical":{"identity":{"docker-reference":"<repo>"},"image":{"docker-manifest-digest":"sha256:…"},
 * "type":"cosign container image signature"},"optional":…}`.
 */
export const SIMPLE_SIGNING_TYPE = 'application/vnd.dev.cosign.simplesigning.v1+json';
export const SIGNATURE_ANNOTATION = 'dev.cosignproject.cosign/signature';
const PAYLOAD_TYPE = 'cosign container image signature';

/** What a payload claims, or why it claims nothing usable. */
export type PayloadClaims = { ok: true; digest: string; reference: string } | { ok: false; reason: string };

export function readPayloadClaims(bytes: Buffer): PayloadClaims {
  let doc: unknown;
  try {
    doc = JSON.parse(bytes.toString('utf8'));
  } catch {
    return { ok: false, reason: 'the payload is not JSON' };
  }
  const critical = field(doc, 'critical');
  const type = field(critical, 'type');
  if (type !== PAYLOAD_TYPE) return { ok: false, reason: `the payload's critical.type is ${JSON.stringify(type)}, not "${PAYLOAD_TYPE}"` };
  const digest = field(field(critical, 'image'), 'docker-manifest-digest');
  const reference = field(field(critical, 'identity'), 'docker-reference');
  if (typeof digest !== 'string') return { ok: false, reason: 'the payload has no critical.image.docker-manifest-digest' };
  if (typeof reference !== 'string') return { ok: false, reason: 'the payload has no critical.identity.docker-reference' };
  return { ok: true, digest, reference };
}

/**
 * The repository a docker-reference names, the way go-containerregistry spells it: Docker Hub as
 * `index.docker.io` (cosign writes that, pkg/cosign/obsolete_test.go), one-part names under `library/`.
 */
export function canonicalRepository(reference: string): string {
  const at = reference.indexOf('@');
  let name = at >= 0 ? reference.slice(0, at) : reference;
  const firstSlash = name.indexOf('/');
  const colon = name.lastIndexOf(':');
  if (colon > firstSlash) name = name.slice(0, colon);
  const slash = name.indexOf('/');
  const head = slash >= 0 ? name.slice(0, slash) : '';
  const isHost = head.includes('.') || head.includes(':') || head === 'localhost';
  let registry = isHost ? head : 'docker.io';
  let path = isHost ? name.slice(slash + 1) : name;
  if (registry === 'index.docker.io' || registry === 'registry-1.docker.io') registry = 'docker.io';
  if (registry === 'docker.io' && !path.includes('/')) path = `library/${path}`;
  return `${registry}/${path}`;
}

function field(v: unknown, key: string): unknown {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>)[key] : undefined;
}
