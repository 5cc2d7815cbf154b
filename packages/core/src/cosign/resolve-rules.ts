import path from 'node:path';
import type { SpecVerifyRule } from '../spec/types.ts';
import { loadCosignPublicKey } from './public-key.ts';
import type { VerifyRule } from './types.ts';

/** `images.verify` with each key file read (paths relative to the spec's folder). */
export async function resolveVerifyRules(rules: readonly SpecVerifyRule[], baseDir: string): Promise<VerifyRule[]> {
  return Promise.all(
    rules.map(async (r) => ({
      match: r.match,
      key: await loadCosignPublicKey(path.resolve(baseDir, r.key)),
      mode: r.mode ?? 'enforce',
    })),
  );
}
