import { readFile } from 'node:fs/promises';
import {
  AirgapError,
  authFiles,
  createRegistryClient,
  describeRule,
  loadCosignPublicKey,
  loadTrustedRoot,
  lookupCredentials,
  matchVerifyRule,
  verifyCosignSignatures,
  type CosignPublicKey,
  type SpecVerifyRule,
  type TrustedRoot,
  type VerifyMode,
  type VerifyRule,
} from '@airgap/core';
import { verifyFor } from '../commands/options.ts';
import { normalizePrefix, pushTarget } from '../push/push-target.ts';
import { mirrorSignature } from './mirror-signature.ts';

/** The options of `applier verify-images`, as the CLI declares them. */
export interface VerifyImagesOptions {
  bundle: string;
  registry?: string;
  plainHttp?: boolean;
  ca?: string;
  prefix?: string;
  /** cosign.pub files (repeatable), for key rules. */
  key?: string[];
  /** A Sigstore trusted_root.json, for identity (keyless) rules. @example 'trusted_root.json' */
  trustedRoot?: string;
  /** Without images.verify rules in the bundle: the signer's OIDC issuer (with --trusted-root). @example 'https://token.actions.githubusercontent.com' */
  identityIssuer?: string;
  /** With --identity-issuer: the certificate's SAN, exactly. */
  identitySubject?: string;
  /** With --identity-issuer: a regular expression the SAN must match as a whole. */
  identitySubjectRegexp?: string;
  /** Accept keyless signatures without a verified Rekor entry (cosign's --insecure-ignore-tlog). */
  insecureIgnoreTlog?: boolean;
  /** Accept Fulcio certificates without SCTs (cosign's --insecure-ignore-sct). */
  insecureIgnoreSct?: boolean;
  pub?: string[];
  json?: boolean;
}

/** One image name's verdict: checked against the mirror's copy of its signature. */
export interface ImageVerdict {
  image: string;
  /** Where its signatures were looked for: `<registry>/<repository>:sha256-<hex>.sig`, then the referrers (API or fallback tag) when the mirror has them. */
  signature: string;
  digest: string;
  mode: VerifyMode;
  /** The spec rule it fell under (its `match`), or `--key` / `--identity-issuer` for every image when the spec has none. */
  rule: string;
  verified: boolean;
  by?: string;
  reason?: string;
}

/**
 * `applier verify-images`: for each image of the bundle, read the signatures the mirror holds for
 * its digest (what `applier push` put there: cosign's `.sig` tag, cosign signature referrers and
 * Sigstore bundle referrers, by the referrers API or its fallback tag) and verify them under the
 * bundle's own `images.verify` rules: their match, mode and identity; the keys and the trusted root
 * are given here, since the rules' paths are on the online machine. Without rules, every image
 * must verify with one of `--key`, or with `--identity-issuer`/`--identity-subject` and
 * `--trusted-root`. Fails with IMAGE_UNVERIFIED when an enforce rule fails, after reporting every image.
 */
export async function verifyImagesCommand(values: VerifyImagesOptions, write: (line: string) => void): Promise<ImageVerdict[]> {
  const registry = values.registry ?? '';
  if (!/^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:]+\])(?::\d{1,5})?$/.test(registry))
    throw new AirgapError('USAGE', registry ? `--registry ${registry} is not HOST[:PORT]` : 'verify-images needs --registry HOST[:PORT]', {
      hint: 'the mirror the images were pushed to, without a scheme (add --plain-http for http://)',
    });
  const keys: CosignPublicKey[] = [];
  for (const file of values.key ?? []) keys.push(await loadCosignPublicKey(file));
  const trustedRoot = values.trustedRoot ? await loadTrustedRoot(values.trustedRoot) : undefined;
  const prefix = normalizePrefix(values.prefix);
  const ca = values.ca ? await readFile(values.ca) : undefined;
  const bundle = await verifyFor({ bundle: values.bundle, pubs: values.pub ?? [], root: '/' });
  const candidates = candidateRules(values, bundle.manifest.spec.images?.verify ?? [], keys, trustedRoot);
  for (const image of bundle.manifest.images) candidates(image.ref); // what a rule lacks is refused before the mirror is asked

  const found = await lookupCredentials(registry, authFiles());
  const client = createRegistryClient({
    endpoint: { registry, url: `${values.plainHttp ? 'http' : 'https'}://${registry}`, ...(ca ? { ca } : {}) },
    ...(found.credentials ? { credentials: found.credentials } : {}),
    credentialsTried: found.tried,
  });
  const verdicts: ImageVerdict[] = [];
  try {
    const seen = new Set<string>();
    for (const image of bundle.manifest.images) {
      const { repository } = pushTarget(image.ref, prefix);
      if (seen.has(`${repository}@${image.digest}`)) continue; // the repo@digest alias of a tag already checked
      seen.add(`${repository}@${image.digest}`);
      const rule = candidates(image.ref);
      if (!rule) continue;
      const sig = await mirrorSignature(client, repository, image.digest, image.ref);
      const verdict: ImageVerdict = {
        image: image.ref,
        signature: `${registry}/${repository}:${image.digest.replace(':', '-')}.sig${sig.referrersFrom ? `, referrers from ${registry}/${sig.referrersFrom}` : ''}`,
        digest: image.digest,
        mode: rule.mode,
        rule: rule.match,
        verified: false,
      };
      // What the bundler verified it with goes first; any given key or identity that verifies will do.
      const recorded = image.verified?.by;
      const ordered = [...rule.verifiers].sort((a, b) => Number(describeRule(b) === recorded) - Number(describeRule(a) === recorded));
      const reasons: string[] = [];
      for (const r0 of ordered) {
        const r = await verifyCosignSignatures({
          imageDigest: image.digest,
          imageRef: image.ref,
          signatureManifest: sig.manifest,
          readBlob: sig.readBlob,
          sigstoreBundles: sig.sigstoreBundles,
          rule: r0,
        });
        if (r.verified) {
          verdict.verified = true;
          verdict.by = r.by!;
          break;
        }
        if (r.reason && !reasons.includes(r.reason)) reasons.push(r.reason);
      }
      if (!verdict.verified) verdict.reason = reasons.join('; ');
      verdicts.push(verdict);
      if (!values.json) write(verdictLine(verdict));
    }
  } finally {
    await client.close();
  }
  if (values.json) write(JSON.stringify(verdicts, null, 2));
  const failed = verdicts.filter((v) => !v.verified && v.mode === 'enforce');
  if (failed.length > 0)
    throw new AirgapError('IMAGE_UNVERIFIED', `${failed.length} image(s) in ${registry} have no valid signature: ${failed.map((f) => f.image).join(', ')}`, {
      hint: 're-run `applier push` from the signed bundle to restore the signatures; if they were replaced in the mirror, find out who wrote them',
    });
  return verdicts;
}

interface Candidates {
  match: string;
  mode: VerifyMode;
  /** Each a rule the verifier takes; one that verifies is enough. */
  verifiers: VerifyRule[];
}

/**
 * For each image: what it must verify with. A bundle rule by key takes every `--key`; a bundle rule
 * by identity keeps its identity and takes `--trusted-root`. Without bundle rules, every image takes
 * the `--key`s and the `--identity-*` one. Whatever a rule needs and the command lacks is a USAGE
 * error before the mirror is asked anything.
 */
function candidateRules(
  values: VerifyImagesOptions,
  rules: readonly SpecVerifyRule[],
  keys: readonly CosignPublicKey[],
  trustedRoot: TrustedRoot | undefined,
): (ref: string) => Candidates | undefined {
  const optOuts = {
    ...(values.insecureIgnoreTlog ? { insecureIgnoreTlog: true } : {}),
    ...(values.insecureIgnoreSct ? { insecureIgnoreSct: true } : {}),
  };
  const needRoot = (what: string) => {
    if (trustedRoot) return trustedRoot;
    throw new AirgapError('USAGE', `${what} is keyless: verify-images needs --trusted-root trusted_root.json`, {
      hint: "give the Sigstore trusted root the bundler's rule named (images.verify[].trustedRoot on the online machine)",
    });
  };
  const byKeys = (match: string, mode: VerifyMode): VerifyRule[] => keys.map((key) => ({ match, key, mode }));
  if (rules.length > 0) {
    if (rules.some((r) => r.key !== undefined) && keys.length === 0)
      throw new AirgapError(
        'USAGE',
        `the bundle's images.verify rule ${rules.find((r) => r.key !== undefined)!.match} is by key: verify-images needs --key cosign.pub`,
        {
          hint: 'give the cosign public key(s) the images are signed with (repeatable)',
        },
      );
    const resolve = (r: SpecVerifyRule): Candidates => {
      const mode = r.mode ?? 'enforce';
      if (r.key !== undefined || !r.identity) return { match: r.match, mode, verifiers: byKeys(r.match, mode) };
      const { issuer, subject, subjectRegExp } = r.identity;
      const identity = { issuer, ...(subject !== undefined ? { subject } : subjectRegExp !== undefined ? { subjectRegExp } : {}) };
      const own = { ...(r.insecureIgnoreTlog ? { insecureIgnoreTlog: true } : {}), ...(r.insecureIgnoreSct ? { insecureIgnoreSct: true } : {}) };
      return { match: r.match, mode, verifiers: [{ match: r.match, identity, trustedRoot: needRoot(`rule ${r.match}`), mode, ...own, ...optOuts }] };
    };
    // Resolved when an image falls under it: a keyless rule no image matches needs no --trusted-root.
    const resolved = new Map<SpecVerifyRule, Candidates>();
    return (ref) => {
      const rule = matchVerifyRule(ref, rules);
      if (!rule) return undefined;
      if (!resolved.has(rule)) resolved.set(rule, resolve(rule));
      return resolved.get(rule);
    };
  }
  const verifiers = byKeys('--key', 'enforce');
  if (values.identityIssuer) {
    if (values.identitySubject === undefined && values.identitySubjectRegexp === undefined)
      throw new AirgapError('USAGE', '--identity-issuer needs --identity-subject SAN or --identity-subject-regexp RE', {
        hint: 'the signer as its Fulcio certificate names it, e.g. --identity-subject ci@example.com',
      });
    const subject = values.identitySubject !== undefined ? { subject: values.identitySubject } : { subjectRegExp: values.identitySubjectRegexp! };
    const identity = { issuer: values.identityIssuer, ...subject };
    verifiers.push({ match: '--identity-issuer', identity, trustedRoot: needRoot('--identity-issuer'), mode: 'enforce', ...optOuts });
  }
  if (verifiers.length === 0)
    throw new AirgapError('USAGE', 'verify-images needs --key cosign.pub, or --identity-issuer and --identity-subject with --trusted-root', {
      hint: 'give the cosign public key(s) the images are signed with (repeatable), or the Sigstore identity that signed them',
    });
  const match = keys.length > 0 ? '--key' : '--identity-issuer';
  return () => ({ match, mode: 'enforce', verifiers });
}

function verdictLine(v: ImageVerdict): string {
  if (v.verified) return `OK    ${v.image} ${v.digest.slice(0, 19)}… signed by ${v.by}`;
  return `${v.mode === 'enforce' ? 'FAIL' : 'WARN'}  ${v.image} ${v.digest.slice(0, 19)}…: ${v.reason ?? 'not verified'}`;
}
