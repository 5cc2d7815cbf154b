import path from 'node:path';
import type { SpecVerifyRule } from '../spec/types.ts';
import { AirgapError } from '../errors.ts';
import { loadTrustedRoot } from './keyless.ts';
import { loadCosignPublicKey } from './public-key.ts';
import type { VerifyRule } from './types.ts';

/** `images.verify` with each key or trusted root file read (paths relative to the spec's folder). */
export async function resolveVerifyRules(rules: readonly SpecVerifyRule[], baseDir: string): Promise<VerifyRule[]> {
  return Promise.all(
    rules.map(async (r): Promise<VerifyRule> => {
      const mode = r.mode ?? 'enforce';
      if (r.key !== undefined) return { match: r.match, key: await loadCosignPublicKey(path.resolve(baseDir, r.key)), mode };
      if (!r.identity || r.trustedRoot === undefined || (r.identity.subject === undefined && r.identity.subjectRegExp === undefined))
        throw new AirgapError('SPEC_INVALID', `images.verify rule ${r.match} needs key, or identity {issuer, subject | subjectRegExp} with trustedRoot`, {
          hint: 'e.g. {match: "ghcr.io/org/*", identity: {issuer: "https://token.actions.githubusercontent.com", subject: "..."}, trustedRoot: trusted_root.json}',
        });
      const { issuer, subject, subjectRegExp } = r.identity;
      return {
        match: r.match,
        identity: { issuer, ...(subject !== undefined ? { subject } : { subjectRegExp: subjectRegExp! }) },
        trustedRoot: await loadTrustedRoot(path.resolve(baseDir, r.trustedRoot)),
        ...(r.insecureIgnoreTlog ? { insecureIgnoreTlog: true } : {}),
        ...(r.insecureIgnoreSct ? { insecureIgnoreSct: true } : {}),
        mode,
      };
    }),
  );
}
