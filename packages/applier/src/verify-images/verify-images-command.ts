import { readFile } from 'node:fs/promises';
import {
  AirgapError,
  authFiles,
  createRegistryClient,
  loadCosignPublicKey,
  lookupCredentials,
  matchVerifyRule,
  verifyCosignSignatures,
  type CosignPublicKey,
  type VerifyMode,
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
  /** cosign.pub files (repeatable). */
  key?: string[];
  pub?: string[];
  json?: boolean;
}

/** One image name's verdict: checked against the mirror's copy of its signature. */
export interface ImageVerdict {
  image: string;
  /** Where its signature was read: `<registry>/<repository>:sha256-<hex>.sig`. */
  signature: string;
  digest: string;
  mode: VerifyMode;
  /** The spec rule it fell under (its `match`), or `--key` for every image when the spec has none. */
  rule: string;
  verified: boolean;
  by?: string;
  reason?: string;
}

/**
 * `applier verify-images`: for each image of the bundle, read the cosign signature the mirror
 * holds for its digest (what `applier push` put there) and verify it with the given keys, under
 * the bundle's own `images.verify` rules (their match and mode; the keys are given here, since
 * the rules' key paths are on the online machine). Without rules, every image must verify.
 * Fails with IMAGE_UNVERIFIED when an enforce rule fails, after reporting every image.
 */
export async function verifyImagesCommand(values: VerifyImagesOptions, write: (line: string) => void): Promise<ImageVerdict[]> {
  const registry = values.registry ?? '';
  if (!/^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:]+\])(?::\d{1,5})?$/.test(registry))
    throw new AirgapError('USAGE', registry ? `--registry ${registry} is not HOST[:PORT]` : 'verify-images needs --registry HOST[:PORT]', {
      hint: 'the mirror the images were pushed to, without a scheme (add --plain-http for http://)',
    });
  if (!values.key?.length)
    throw new AirgapError('USAGE', 'verify-images needs --key cosign.pub', { hint: 'give the cosign public key(s) the images are signed with (repeatable)' });
  const keys: CosignPublicKey[] = [];
  for (const file of values.key) keys.push(await loadCosignPublicKey(file));
  const prefix = normalizePrefix(values.prefix);
  const ca = values.ca ? await readFile(values.ca) : undefined;
  const bundle = await verifyFor({ bundle: values.bundle, pubs: values.pub ?? [], root: '/' });
  const rules = bundle.manifest.spec.images?.verify ?? [];

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
      const rule = rules.length > 0 ? matchVerifyRule(image.ref, rules) : { match: '--key', mode: 'enforce' as const };
      if (!rule) continue;
      const mode: VerifyMode = rule.mode ?? 'enforce';
      const sig = await mirrorSignature(client, repository, image.digest, image.ref);
      const verdict: ImageVerdict = {
        image: image.ref,
        signature: `${registry}/${repository}:${image.digest.replace(':', '-')}.sig`,
        digest: image.digest,
        mode,
        rule: rule.match,
        verified: false,
      };
      // The key the bundler verified it with goes first; any given key that verifies will do.
      const recorded = image.verified?.by;
      const ordered = [...keys].sort((a, b) => Number(`key ${b.fingerprint}` === recorded) - Number(`key ${a.fingerprint}` === recorded));
      const reasons: string[] = [];
      for (const key of ordered) {
        const r = await verifyCosignSignatures({
          imageDigest: image.digest,
          imageRef: image.ref,
          signatureManifest: sig.manifest,
          readBlob: sig.readBlob,
          rule: { match: rule.match, key, mode },
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

function verdictLine(v: ImageVerdict): string {
  if (v.verified) return `OK    ${v.image} ${v.digest.slice(0, 19)}… signed by ${v.by}`;
  return `${v.mode === 'enforce' ? 'FAIL' : 'WARN'}  ${v.image} ${v.digest.slice(0, 19)}…: ${v.reason ?? 'not verified'}`;
}
