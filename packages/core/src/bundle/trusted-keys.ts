import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { loadPublicKey, type PublicKey } from './keys.ts';

export const TRUSTED_KEYS_DIR = '/etc/airgap/trusted.d';

/** Keys named with --pub, or else every *.pub in the trusted keys folder (under --root when given). */
export async function loadTrustedKeys(pubs: readonly string[], trustedDir = TRUSTED_KEYS_DIR): Promise<PublicKey[]> {
  if (pubs.length > 0) return Promise.all(pubs.map((p) => loadPublicKey(p)));
  const names = await readdir(trustedDir).catch(() => [] as string[]);
  return Promise.all(
    names
      .filter((n) => n.endsWith('.pub'))
      .sort()
      .map((n) => loadPublicKey(path.join(trustedDir, n))),
  );
}
