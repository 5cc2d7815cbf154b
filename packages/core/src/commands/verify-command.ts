import { loadTrustedKeys } from '../bundle/trusted-keys.ts';
import { verifyBundle, type VerifiedBundle } from '../bundle/read-bundle.ts';

export interface VerifyCommandOptions {
  bundle: string;
  /** Public key files; empty means every *.pub in trustedDir. */
  pubs: string[];
  trustedDir?: string;
}

/** `bundler verify` and `applier verify`: the same code on both sides of the gap. */
export async function verifyCommand(options: VerifyCommandOptions): Promise<VerifiedBundle> {
  const keys = await loadTrustedKeys(options.pubs, options.trustedDir);
  return verifyBundle(options.bundle, { keys });
}

export function describeVerified(bundle: VerifiedBundle): string {
  const m = bundle.manifest;
  const bytes = m.entries.reduce((n, e) => n + e.size, 0);
  return [
    `OK ${bundle.file}`,
    `  bundle  ${m.name} (format ${m.formatVersion}, created ${m.createdAt})`,
    `  signer  ${bundle.signer.fingerprint} (${bundle.signer.source})`,
    `  digest  sha256:${bundle.digest}`,
    `  entries ${m.entries.length} files, ${bytes} bytes verified`,
  ].join('\n');
}
