import { X509Certificate, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { AirgapError } from '../errors.ts';
import type { IdentityVerifyRule, TrustedRoot } from './types.ts';

/**
 * Keyless (Sigstore identity) certificate checks. `cosign sign` in keyless mode puts the Fulcio leaf
 * certificate (PEM) and its chain in the `.sig` layer annotations below (sigstore/cosign
 * pkg/oci/static/options.go, pkg/cosign/verify.go reads them back), and the Rekor entry in
 * `dev.sigstore.cosign/bundle`. Checked here, first, with node:crypto: the leaf chains to a Fulcio CA
 * of the trusted root, every certificate on the way is valid at the signing time (the Rekor entry's
 * integratedTime, else now), the leaf is for code signing, names the rule's issuer (Fulcio OID
 * extension) and subject (SAN). The Rekor entry (its SET against the trusted root's tlogs, its body
 * against the signature), the SCTs (against ctlogs) and the chain again at the verified time are then
 * checked by sigstore-bundle.ts with @sigstore/verify (verify-signatures.ts).
 */
export const CERTIFICATE_ANNOTATION = 'dev.sigstore.cosign/certificate';
export const CHAIN_ANNOTATION = 'dev.sigstore.cosign/chain';
export const BUNDLE_ANNOTATION = 'dev.sigstore.cosign/bundle';

/** Fulcio's issuer extensions (sigstore/fulcio docs/oid-info.md): `.1.8` (DER UTF8String) and the legacy `.1.1` (raw bytes). */
const OID_ISSUER_V2 = '2b0601040183bf300108'; // 1.3.6.1.4.1.57264.1.8
const OID_ISSUER_V1 = '2b0601040183bf300101'; // 1.3.6.1.4.1.57264.1.1
const CODE_SIGNING = '1.3.6.1.5.5.7.3.3';

/** Read a Sigstore trusted_root.json (protobuf-specs TrustedRoot JSON): its Fulcio certificate authorities. */
export async function loadTrustedRoot(file: string): Promise<TrustedRoot> {
  let doc: unknown;
  try {
    doc = JSON.parse(await readFile(file, 'utf8'));
  } catch (err) {
    throw new AirgapError('KEY_INVALID', `cannot read trusted root ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, {
      hint: 'images.verify[].trustedRoot is a Sigstore trusted_root.json (`cosign trusted-root create` or sigstore/root-signing), relative to the spec folder',
      cause: err,
    });
  }
  const cas = (doc as { certificateAuthorities?: unknown } | null)?.certificateAuthorities;
  const bad = (why: string) =>
    new AirgapError('KEY_INVALID', `${file} is not a Sigstore trusted root: ${why}`, {
      hint: 'use a trusted_root.json in the protobuf-specs TrustedRoot JSON format (certificateAuthorities[].certChain.certificates[].rawBytes)',
    });
  if (!Array.isArray(cas) || cas.length === 0) throw bad('no certificateAuthorities');
  const authorities = cas.map((ca: unknown, i) => {
    const c = ca as { uri?: unknown; certChain?: { certificates?: unknown }; validFor?: { start?: unknown; end?: unknown } };
    const certs = c.certChain?.certificates;
    if (!Array.isArray(certs) || certs.length === 0) throw bad(`certificateAuthorities[${i}] has no certChain.certificates`);
    const certificates = certs.map((x: unknown, j) => {
      const raw = (x as { rawBytes?: unknown } | null)?.rawBytes;
      try {
        if (typeof raw !== 'string') throw new Error('no rawBytes');
        return new X509Certificate(Buffer.from(raw, 'base64'));
      } catch {
        throw bad(`certificateAuthorities[${i}].certChain.certificates[${j}] is not a base64 DER certificate`);
      }
    });
    const date = (v: unknown) => (typeof v === 'string' && !Number.isNaN(Date.parse(v)) ? new Date(v) : undefined);
    const start = date(c.validFor?.start);
    const end = date(c.validFor?.end);
    return { uri: typeof c.uri === 'string' ? c.uri : `certificateAuthorities[${i}]`, certificates, ...(start ? { start } : {}), ...(end ? { end } : {}) };
  });
  return { source: file, authorities, document: doc };
}

export type KeylessOutcome = { ok: true; key: KeyObject; by: string } | { ok: false; reason: string };

/** The leaf certificate of a signature layer checked against an identity rule; its key when it passes. */
export function checkKeylessCertificate(annotations: Record<string, unknown> | undefined, rule: IdentityVerifyRule): KeylessOutcome {
  const pem = annotations?.[CERTIFICATE_ANNOTATION];
  if (typeof pem !== 'string' || pem === '') return { ok: false, reason: `no ${CERTIFICATE_ANNOTATION} annotation (not a keyless signature)` };
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(pem);
  } catch {
    return { ok: false, reason: `the ${CERTIFICATE_ANNOTATION} annotation is not a PEM certificate` };
  }
  const at = signingTime(annotations?.[BUNDLE_ANNOTATION]);
  const when = at.toISOString();
  if (!validAt(leaf, at))
    return { ok: false, reason: `the certificate (${leaf.subjectAltName ?? leaf.subject}) is valid ${leaf.validFrom} to ${leaf.validTo}, not at ${when}` };
  if (leaf.keyUsage && !leaf.keyUsage.includes(CODE_SIGNING)) return { ok: false, reason: 'the certificate is not for code signing' };
  const chained = chainsTo(leaf, rule.trustedRoot, at);
  if (chained !== undefined) return { ok: false, reason: chained };
  let issuer: string | undefined;
  try {
    issuer = fulcioIssuer(leaf);
  } catch {
    issuer = undefined;
  }
  if (issuer === undefined) return { ok: false, reason: 'the certificate has no Fulcio issuer extension (1.3.6.1.4.1.57264.1.8 or .1.1)' };
  const sans = subjectAltNames(leaf);
  if (issuer !== rule.identity.issuer)
    return { ok: false, reason: `the certificate is for issuer ${issuer} (${sans.join(', ')}), the rule wants ${rule.identity.issuer}` };
  const wanted = rule.identity.subject;
  const re = rule.identity.subjectRegExp === undefined ? undefined : new RegExp(`^(?:${rule.identity.subjectRegExp})$`);
  const subject = sans.find((s) => (wanted !== undefined ? s === wanted : re ? re.test(s) : false));
  if (subject === undefined)
    return {
      ok: false,
      reason: `the certificate is for subject ${sans.join(', ') || '(none)'}, the rule wants ${wanted ?? `/${rule.identity.subjectRegExp}/`}`,
    };
  return { ok: true, key: leaf.publicKey, by: `identity ${issuer} ${subject}` };
}

/** Rekor's integratedTime from cosign's bundle annotation (`{"Payload":{"integratedTime":…}}`), else now. */
function signingTime(bundle: unknown): Date {
  if (typeof bundle === 'string') {
    try {
      const t = (JSON.parse(bundle) as { Payload?: { integratedTime?: unknown } }).Payload?.integratedTime;
      if (typeof t === 'number' && Number.isFinite(t)) return new Date(t * 1000);
    } catch {
      // not JSON: fall back to now
    }
  }
  return new Date();
}

const validAt = (c: X509Certificate, at: Date) => new Date(c.validFrom) <= at && at <= new Date(c.validTo);

/** Undefined when `leaf` is issued by a CA certificate of the trusted root (through its chain), all valid at `at`. */
function chainsTo(leaf: X509Certificate, root: TrustedRoot, at: Date): string | undefined {
  const why: string[] = [];
  for (const ca of root.authorities) {
    if ((ca.start && at < ca.start) || (ca.end && at > ca.end)) {
      why.push(`${ca.uri} is trusted ${ca.start?.toISOString() ?? ''}..${ca.end?.toISOString() ?? ''}`);
      continue;
    }
    let current = leaf;
    for (let depth = 0; depth < 10; depth++) {
      const parent = ca.certificates.find((c) => c.ca && current.checkIssued(c) && current.verify(c.publicKey));
      if (!parent) {
        if (depth === 0) why.push(`not issued by ${ca.uri}`);
        else return undefined; // reached a certificate of the trusted root: it is an anchor
        break;
      }
      if (!validAt(parent, at)) {
        why.push(`${ca.uri} certificate ${parent.subject.replace(/\n/g, ', ')} is not valid at ${at.toISOString()}`);
        break;
      }
      if (parent.checkIssued(parent)) return undefined; // the root
      current = parent;
    }
  }
  return `the certificate does not chain to a CA of the trusted root ${root.source} (${why.join('; ')})`;
}

/** SAN entries (email and URI values) as Node prints them: `email:a@b, URI:https://…` (values with commas are JSON-quoted). */
function subjectAltNames(c: X509Certificate): string[] {
  const out: string[] = [];
  for (const m of (c.subjectAltName ?? '').matchAll(/(email|URI):("(?:[^"\\]|\\.)*"|[^,]*)(?:, |$)/g)) {
    const v = m[2]!;
    out.push(v.startsWith('"') ? (JSON.parse(v) as string) : v);
  }
  return out;
}

/** The Fulcio issuer extension's value, walking the certificate's DER (Certificate > TBSCertificate > [3] extensions). */
export function fulcioIssuer(c: X509Certificate): string | undefined {
  const der = c.raw;
  const cert = tlv(der, 0);
  const tbs = tlv(der, cert.start);
  let v1: string | undefined;
  for (let off = tbs.start; off < tbs.end;) {
    const field = tlv(der, off);
    if (field.tag === 0xa3) {
      const list = tlv(der, field.start);
      for (let e = list.start; e < list.end;) {
        const ext = tlv(der, e);
        const oid = tlv(der, ext.start);
        let value = tlv(der, oid.end);
        if (value.tag === 0x01) value = tlv(der, value.end); // critical flag
        const id = der.subarray(oid.start, oid.end).toString('hex');
        if (id === OID_ISSUER_V2) {
          const s = tlv(der, value.start);
          return der.subarray(s.start, s.end).toString('utf8');
        }
        if (id === OID_ISSUER_V1) v1 = der.subarray(value.start, value.end).toString('utf8');
        e = ext.end;
      }
    }
    off = field.end;
  }
  return v1;
}

/** One DER tag-length-value at `off`: its tag, where its content starts and ends. */
function tlv(buf: Buffer, off: number): { tag: number; start: number; end: number } {
  const tag = buf[off]!;
  let len = buf[off + 1]!;
  let start = off + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4) throw new Error('unsupported DER length');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[start + i]!;
    start += n;
  }
  if (start + len > buf.length) throw new Error('truncated DER');
  return { tag, start, end: start + len };
}
