import { isHeadFile, verifyHead, type VerifiedHead } from '../bundle/bundle-head.ts';
import { loadTrustedKeys } from '../bundle/trusted-keys.ts';
import { verifyBundle, type VerifiedBundle } from '../bundle/read-bundle.ts';

export interface VerifyCommandOptions {
  bundle: string;
  /** Public key files; empty means every *.pub in trustedDir. */
  pubs: string[];
  trustedDir?: string;
}

/**
 * `bundler verify` and `applier verify`: the same code on both sides of the gap. A bundle's
 * signed head (`bundler inspect --head`) is checked on its own: its signature and layout.
 */
export async function verifyCommand(options: VerifyCommandOptions): Promise<VerifiedBundle | VerifiedHead> {
  const keys = await loadTrustedKeys(options.pubs, options.trustedDir);
  if (keys.length > 0 && (await isHeadFile(options.bundle))) return verifyHead(options.bundle, keys);
  return verifyBundle(options.bundle, { keys });
}

export function describeVerified(bundle: VerifiedBundle | VerifiedHead): string {
  const m = bundle.manifest;
  const bytes = m.entries.reduce((n, e) => n + e.size, 0);
  const head = 'kind' in bundle;
  return [
    `OK ${bundle.file}${head ? ' (a signed head: manifest and signature only)' : ''}`,
    `  bundle  ${m.name} (format ${m.formatVersion}, created ${m.createdAt})`,
    `  signer  ${bundle.signer.fingerprint} (${bundle.signer.source})`,
    `  digest  sha256:${bundle.digest}`,
    head ? `  entries ${m.entries.length} files, ${bytes} bytes listed (not in the head)` : `  entries ${m.entries.length} files, ${bytes} bytes verified`,
  ].join('\n');
}
