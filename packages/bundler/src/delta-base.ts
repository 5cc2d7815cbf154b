import { createPublicKey, type KeyObject } from 'node:crypto';
import { fingerprintOf, isHeadFile, loadTrustedKeys, openBaseBundle, verifyHead, type DeltaBase, type PublicKey } from '@airgap/core';

/**
 * The base of `bundler build --base OLD`: OLD is an earlier bundle (its file, first part or the
 * folder of its parts) or its signed head (`bundler inspect --head`). Its signature is checked
 * like any bundle's, against the --pub keys (else /etc/airgap/trusted.d) and the public half of
 * the signing key: a delta is only ever planned against a manifest a trusted key signed. Only the
 * manifest is needed; the base's payload is not read.
 */
export async function loadDeltaBase(o: { base: string; key: KeyObject; pubs: readonly string[] }): Promise<DeltaBase & { file: string }> {
  const own = createPublicKey(o.key);
  const keys: PublicKey[] = [{ key: own, fingerprint: fingerprintOf(own), source: 'the signing key --key' }, ...(await loadTrustedKeys(o.pubs))];
  const verified = (await isHeadFile(o.base)) ? await verifyHead(o.base, keys) : await openBaseBundle(o.base, keys);
  return { file: o.base, manifest: verified.manifest, digest: verified.digest };
}
