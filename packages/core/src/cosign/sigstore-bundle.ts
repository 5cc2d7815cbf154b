import type { Bundle } from '@sigstore/bundle';
import type { SignedEntity, Signer } from '@sigstore/verify';
import { canonicalRepository } from './simple-signing.ts';
import type { IdentityVerifyRule, TrustedRoot, VerifyInput, VerifyRule } from './types.ts';

/**
 * Sigstore bundles (protobuf-specs Bundle JSON, v0.1 to v0.3), checked with @sigstore/verify.
 *
 * cosign v3 (`cosign sign --new-bundle-format`, the default in v3) signs an image as a DSSE
 * envelope over an in-toto statement whose one subject is the image digest (no name) and whose
 * predicateType is `https://sigstore.dev/cosign/sign/v1` (sigstore/cosign cmd/cosign/cli/sign/sign.go,
 * signDigestBundle), and stores the bundle as an OCI referrer of the image: artifactType
 * `application/vnd.dev.sigstore.bundle.v0.3+json`, one layer of that type holding the bundle JSON
 * (pkg/oci/remote/write.go, WriteAttestationNewBundleFormat; `cosign attest` does the same with its
 * own predicate and the repository as the subject's name). `cosign verify` then accepts a referrer
 * bundle that verifies and whose statement's subject digest is the image's
 * (pkg/cosign/verify.go, verifyImageAttestationsSigstoreBundle, `WithArtifactDigest`); the same is
 * checked here, plus the subject's name, where it has one, must be the image's repository.
 */
export const SIGSTORE_BUNDLE_V03 = 'application/vnd.dev.sigstore.bundle.v0.3+json';
const BUNDLE_MEDIA_TYPES = new Set([
  'application/vnd.dev.sigstore.bundle+json;version=0.1',
  'application/vnd.dev.sigstore.bundle+json;version=0.2',
  'application/vnd.dev.sigstore.bundle+json;version=0.3',
  SIGSTORE_BUNDLE_V03,
]);
export const IN_TOTO_PAYLOAD_TYPE = 'application/vnd.in-toto+json';
const IN_TOTO_STATEMENTS = new Set(['https://in-toto.io/Statement/v0.1', 'https://in-toto.io/Statement/v1']);
/** A bundle is a few kilobytes (a certificate, a signature, a log entry). */
const MAX_BUNDLE_BYTES = 1024 * 1024;

type Sigstore = {
  verify: typeof import('@sigstore/verify');
  bundle: typeof import('@sigstore/bundle');
  specs: typeof import('@sigstore/protobuf-specs');
  core: typeof import('@sigstore/core');
  sct: typeof import('@sigstore/verify/dist/key/sct.js');
};
let loading: Promise<Sigstore> | undefined;
/** Loaded on first use, so that commands that verify nothing (`--version`, apply) do not load it. */
function sigstore(): Promise<Sigstore> {
  loading ??= Promise.all([
    import('@sigstore/verify'),
    import('@sigstore/bundle'),
    import('@sigstore/protobuf-specs'),
    import('@sigstore/core'),
    // Not in the package's index: the SCT check alone, for a certificate without a bundle around it.
    import('@sigstore/verify/dist/key/sct.js'),
  ]).then(([verify, bundle, specs, core, sct]) => ({ verify, bundle, specs, core, sct }));
  return loading;
}

export type BundleOutcome =
  | {
      ok: true;
      /** `key sha256:<hex>` or `identity <issuer> <subject>`, with what was not checked in brackets. */
      by: string;
      /** The earliest verified transparency log time, when there is one. */
      signedAt?: Date;
      /** The DSSE envelope's payload, for a DSSE bundle. */
      dsse?: { payloadType: string; payload: Buffer };
    }
  | { ok: false; reason: string };

/**
 * Does this bundle verify for the rule: the signature by the rule's key, or by a Fulcio certificate
 * that chains to the rule's trusted root, has SCTs from its `ctlogs` and names the rule's identity,
 * with a transparency log entry whose signed entry timestamp (or inclusion proof and checkpoint)
 * verifies with its `tlogs` keys and whose body matches the signature? `artifact` is the signed
 * bytes of a messageSignature bundle. For a key rule the log entries are not checked (there is no
 * trusted root to check them against).
 */
export async function verifySigstoreBundle(doc: unknown, rule: VerifyRule, artifact?: Buffer): Promise<BundleOutcome> {
  const mediaType = (doc as { mediaType?: unknown } | null)?.mediaType;
  if (typeof mediaType !== 'string' || !BUNDLE_MEDIA_TYPES.has(mediaType))
    return { ok: false, reason: `not a Sigstore bundle (mediaType ${JSON.stringify(mediaType ?? null)})` };
  const { verify, bundle: bundles, specs } = await sigstore();
  let bundle: Bundle;
  try {
    bundle = bundles.bundleFromJSON(doc);
  } catch (err) {
    return { ok: false, reason: `not a valid Sigstore bundle: ${(err as Error).message}` };
  }
  if (bundle.content.$case === 'messageSignature' && artifact === undefined)
    return { ok: false, reason: 'the bundle is a messageSignature over a blob, not a DSSE statement about an image' };
  const keyed = bundle.verificationMaterial.content.$case === 'publicKey';
  let entity: SignedEntity;
  try {
    entity = verify.toSignedEntity(bundle, artifact);
  } catch (err) {
    return { ok: false, reason: `cannot read the bundle: ${(err as Error).message}` };
  }
  let signer: Signer;
  let by: string;
  const empty = {
    mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
    tlogs: [],
    certificateAuthorities: [],
    ctlogs: [],
    timestampAuthorities: [],
  };
  try {
    if (rule.key) {
      if (!keyed) return { ok: false, reason: `the bundle is signed with a certificate, the rule wants key ${rule.key.fingerprint}` };
      const key = rule.key.key;
      const material = verify.toTrustMaterial(specs.TrustedRoot.fromJSON(empty), () => ({ publicKey: key, validFor: () => true }));
      // The key decides; log entries are not checked without a trusted root (cosign checks them against its TUF root).
      signer = new verify.Verifier(material, { tlogThreshold: 0, ctlogThreshold: 0, tsaThreshold: 0 }).verify({ ...entity, timestamps: [], tlogEntries: [] });
      by = `key ${rule.key.fingerprint}`;
    } else {
      if (keyed)
        return { ok: false, reason: `the bundle is signed with a key (hint ${bundleKeyHint(bundle)}), the rule wants a certificate for ${ruleIdentity(rule)}` };
      if (entity.timestamps.length === 0)
        return { ok: false, reason: 'the bundle has no transparency log entry nor timestamp to check its short-lived certificate against' };
      const material = verify.toTrustMaterial(specs.TrustedRoot.fromJSON(rule.trustedRoot.document));
      signer = new verify.Verifier(material, {
        tlogThreshold: rule.insecureIgnoreTlog ? 0 : 1,
        ctlogThreshold: rule.insecureIgnoreSct ? 0 : 1,
        tsaThreshold: 0,
      }).verify(entity);
      const identity = checkIdentity(signer, rule);
      if (typeof identity !== 'string') return identity;
      by = `identity ${rule.identity.issuer} ${identity}${optOuts(rule)}`;
    }
  } catch (err) {
    return { ok: false, reason: explain(err, rule) };
  }
  const times = rule.key
    ? []
    : entity.timestamps.flatMap((t) => (t.$case === 'transparency-log' && t.tlogEntry.integratedTime ? [Number(t.tlogEntry.integratedTime)] : []));
  const signedAt = times.length > 0 ? new Date(Math.min(...times) * 1000) : undefined;
  const dsse =
    bundle.content.$case === 'dsseEnvelope'
      ? { payloadType: bundle.content.dsseEnvelope.payloadType, payload: bundle.content.dsseEnvelope.payload }
      : undefined;
  return { ok: true, by, ...(signedAt ? { signedAt } : {}), ...(dsse ? { dsse } : {}) };
}

/**
 * A cosign v3 image bundle (the one layer of a referrer of the image): it verifies for the rule and
 * its in-toto statement names this image digest (and, where the subject has a name, this repository).
 */
export async function verifyImageBundle(bytes: Buffer, input: Pick<VerifyInput, 'imageDigest' | 'imageRef' | 'rule'>): Promise<BundleOutcome> {
  if (bytes.length > MAX_BUNDLE_BYTES) return { ok: false, reason: `the bundle is ${bytes.length} bytes` };
  let doc: unknown;
  try {
    doc = JSON.parse(bytes.toString('utf8'));
  } catch {
    return { ok: false, reason: 'the bundle is not JSON' };
  }
  const r = await verifySigstoreBundle(doc, input.rule);
  if (!r.ok) return r;
  if (!r.dsse) return { ok: false, reason: 'the bundle has no DSSE envelope' };
  if (r.dsse.payloadType !== IN_TOTO_PAYLOAD_TYPE)
    return { ok: false, reason: `the DSSE payload is ${r.dsse.payloadType}, not an in-toto statement (${IN_TOTO_PAYLOAD_TYPE})` };
  let statement: { _type?: unknown; subject?: unknown; predicateType?: unknown };
  try {
    statement = JSON.parse(r.dsse.payload.toString('utf8')) as typeof statement;
  } catch {
    return { ok: false, reason: 'the DSSE payload is not JSON' };
  }
  if (typeof statement !== 'object' || statement === null || !IN_TOTO_STATEMENTS.has(statement._type as string))
    return { ok: false, reason: `the DSSE payload is not an in-toto statement (_type ${JSON.stringify(statement?._type ?? null)})` };
  const subjects = (Array.isArray(statement.subject) ? statement.subject : []) as { name?: unknown; digest?: Record<string, unknown> }[];
  const [algorithm, hex] = input.imageDigest.split(':') as [string, string];
  const hit = subjects.find((s) => typeof s?.digest === 'object' && s.digest !== null && s.digest[algorithm] === hex);
  if (!hit) {
    const named = subjects.flatMap((s) => Object.entries(s?.digest ?? {}).map(([a, v]) => `${a}:${String(v)}`));
    return { ok: false, reason: `signed for ${named.join(', ') || '(no subject digest)'}, the image is ${input.imageDigest}` };
  }
  if (typeof hit.name === 'string' && hit.name !== '') {
    const want = canonicalRepository(input.imageRef);
    if (canonicalRepository(hit.name) !== want) return { ok: false, reason: `signed for ${hit.name}@${input.imageDigest}, the image is ${want}` };
  }
  return r;
}

function bundleKeyHint(b: Bundle): string {
  return b.verificationMaterial.content.$case === 'publicKey' ? b.verificationMaterial.content.publicKey.hint || '(none)' : '(none)';
}

const ruleIdentity = (rule: IdentityVerifyRule) => `${rule.identity.issuer} ${rule.identity.subject ?? `/${rule.identity.subjectRegExp ?? ''}/`}`;

/** What an identity rule opted out of, as `by` says it: ` (no transparency log check, no SCT check)`. */
export function optOuts(rule: IdentityVerifyRule): string {
  const off = [...(rule.insecureIgnoreTlog ? ['no transparency log check'] : []), ...(rule.insecureIgnoreSct ? ['no SCT check'] : [])];
  return off.length > 0 ? ` (${off.join(', ')})` : '';
}

/** The SAN that matches the rule (issuer exactly, subject exactly or the regular expression as a whole, as cosign's CheckCertificatePolicy), or why not. */
function checkIdentity(signer: Signer, rule: IdentityVerifyRule): string | { ok: false; reason: string } {
  const issuer = signer.identity?.extensions?.issuer;
  const san = signer.identity?.subjectAlternativeName;
  if (issuer !== rule.identity.issuer)
    return { ok: false, reason: `the certificate is for issuer ${issuer ?? '(none)'} (${san ?? 'no SAN'}), the rule wants ${rule.identity.issuer}` };
  const re = rule.identity.subjectRegExp === undefined ? undefined : new RegExp(`^(?:${rule.identity.subjectRegExp})$`);
  const good = san !== undefined && (rule.identity.subject !== undefined ? san === rule.identity.subject : re ? re.test(san) : false);
  if (!good)
    return {
      ok: false,
      reason: `the certificate is for subject ${san ?? '(none)'}, the rule wants ${rule.identity.subject ?? `/${rule.identity.subjectRegExp}/`}`,
    };
  return san;
}

/** @sigstore/verify's VerificationError codes as a sentence naming the trusted root part that refused. */
function explain(err: unknown, rule: VerifyRule): string {
  const code = (err as { code?: unknown }).code;
  const message = (err as Error).message;
  const root = rule.key ? '' : ` of ${rule.trustedRoot.source}`;
  switch (code) {
    case 'TLOG_INCLUSION_PROMISE_ERROR':
      return `the transparency log entry's signed entry timestamp (SET) does not verify with a tlogs key${root}`;
    case 'TLOG_INCLUSION_PROOF_ERROR':
      return `the transparency log entry's inclusion proof or checkpoint does not verify (${message})`;
    case 'TLOG_BODY_ERROR':
      return `the transparency log entry is for another signature (${message})`;
    case 'TLOG_MISSING_INCLUSION_ERROR':
      return 'the transparency log entry has neither a signed entry timestamp nor an inclusion proof';
    case 'SIGNATURE_ERROR':
      return rule.key ? `the signature does not verify with key ${rule.key.fingerprint}` : "the signature does not verify with the certificate's key";
    case 'CERTIFICATE_ERROR':
      return /SCT/.test(message)
        ? `the certificate's SCTs do not verify with a ctlogs key${root} (${message})`
        : `the certificate does not chain to a CA${root} at the signing time (${message})`;
    case 'TIMESTAMP_ERROR':
      return `the bundle's timestamps do not satisfy the rule (${message})`;
    default:
      return `the bundle does not verify: ${typeof code === 'string' ? `${code}: ` : ''}${message}`;
  }
}

/**
 * A keyless `.sig` layer as the v0.1 bundle it amounts to, so that the same checks apply: cosign's
 * `dev.sigstore.cosign/bundle` annotation is `{SignedEntryTimestamp, Payload: {body, integratedTime,
 * logIndex, logID}}` (sigstore/cosign pkg/cosign/bundle/rekor.go, RekorBundle), the Rekor entry whose
 * SET cosign checks against the Rekor key (pkg/cosign/verify.go, VerifyBundle); the signature is
 * over the payload bytes (messageSignature), the certificate and chain are the layer's PEM ones.
 */
export function legacyLayerBundle(o: {
  rekorBundle: string;
  certificatePem: string;
  chainPem?: string;
  signature: string;
  payloadSha256: Buffer;
}): Record<string, unknown> | string {
  let rb: { SignedEntryTimestamp?: unknown; Payload?: { body?: unknown; integratedTime?: unknown; logIndex?: unknown; logID?: unknown } };
  try {
    rb = JSON.parse(o.rekorBundle) as typeof rb;
  } catch {
    return 'the dev.sigstore.cosign/bundle annotation is not JSON';
  }
  const p = rb?.Payload;
  if (
    typeof rb?.SignedEntryTimestamp !== 'string' ||
    typeof p?.body !== 'string' ||
    typeof p.integratedTime !== 'number' ||
    typeof p.logIndex !== 'number' ||
    typeof p.logID !== 'string'
  )
    return 'the dev.sigstore.cosign/bundle annotation has no SignedEntryTimestamp and Payload {body, integratedTime, logIndex, logID}';
  let kind: { kind?: unknown; apiVersion?: unknown };
  try {
    kind = JSON.parse(Buffer.from(p.body, 'base64').toString('utf8')) as typeof kind;
  } catch {
    return 'the Rekor entry body is not base64 JSON';
  }
  const ders = [o.certificatePem, o.chainPem ?? ''].flatMap((pem) =>
    [...pem.matchAll(/-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/g)].map((m) => ({ rawBytes: m[1]!.replace(/\s+/g, '') })),
  );
  return {
    mediaType: 'application/vnd.dev.sigstore.bundle+json;version=0.1',
    verificationMaterial: {
      x509CertificateChain: { certificates: ders },
      tlogEntries: [
        {
          logIndex: String(p.logIndex),
          logId: { keyId: Buffer.from(p.logID, 'hex').toString('base64') },
          kindVersion: { kind: typeof kind?.kind === 'string' ? kind.kind : '', version: typeof kind?.apiVersion === 'string' ? kind.apiVersion : '' },
          integratedTime: String(p.integratedTime),
          inclusionPromise: { signedEntryTimestamp: rb.SignedEntryTimestamp },
          canonicalizedBody: p.body,
        },
      ],
    },
    messageSignature: { messageDigest: { algorithm: 'SHA2_256', digest: o.payloadSha256.toString('base64') }, signature: o.signature },
  };
}

/**
 * The SCTs embedded in a Fulcio certificate, checked against the trusted root's ctlogs (RFC 6962
 * precertificate signatures, as @sigstore/verify does inside a bundle): undefined when at least one
 * verifies, else why not. For a `.sig` layer without a Rekor bundle, where no bundle is verified.
 */
export async function certificateSctProblem(certificatePem: string, chainPem: string | undefined, root: TrustedRoot): Promise<string | undefined> {
  const { verify, specs, core, sct } = await sigstore();
  let leaf: InstanceType<typeof core.X509Certificate>;
  try {
    leaf = core.X509Certificate.parse(certificatePem);
  } catch {
    return 'the certificate annotation is not a PEM certificate';
  }
  const material = verify.toTrustMaterial(specs.TrustedRoot.fromJSON(root.document));
  const candidates = [
    ...material.certificateAuthorities.flatMap((ca) => ca.certChain),
    ...[...(chainPem ?? '').matchAll(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g)].map((m) => core.X509Certificate.parse(m[0])),
  ];
  const issuer = candidates.find((c) => {
    try {
      return leaf.verify(c);
    } catch {
      return false;
    }
  });
  if (!issuer) return `the certificate's issuer is not in ${root.source}`;
  try {
    const logs = sct.verifySCTs(leaf, issuer, material.ctlogs);
    return logs.length > 0 ? undefined : `the certificate has no SCTs (the rule may accept that with insecureIgnoreSct: true)`;
  } catch (err) {
    return `the certificate's SCTs do not verify with a ctlogs key of ${root.source} (${(err as Error).message})`;
  }
}
