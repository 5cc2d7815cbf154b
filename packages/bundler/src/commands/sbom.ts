import { loadTrustedKeys, readEntry, verifyBundle, writeFileAtomic, type VerifiedBundle } from '@airgap/core';
import { buildSbom, SBOM_PATH } from '../sbom/build-sbom.ts';
import { filesOfBundle } from '../sbom/sbom-files.ts';

export interface SbomOptions {
  /** The bundle: its file, its first part or the folder of its parts. */
  bundle: string;
  /** Trusted public keys; empty: every *.pub in trustedDir (/etc/airgap/trusted.d). */
  pubs: string[];
  trustedDir?: string;
  /** Write the SBOM here (temp name + rename) instead of returning it for stdout. @example 'bundle.cdx.json' */
  out?: string;
}

export interface SbomResult {
  sbom: Buffer;
  /** The bundle's own signed entry, or false: an older bundle without one, whose SBOM was made from its verified entries. */
  fromEntry: boolean;
  bundle: VerifiedBundle;
  out?: string;
}

/**
 * `bundler sbom`: the bundle's CycloneDX SBOM, printed only after the whole bundle verified (its
 * signature and every digest), so what it lists is what the signer put in. The bytes are the
 * bundle's `airgap/sbom.cdx.json` entry as signed; a bundle built before it carried one gets the
 * same document made from its verified manifest and entries.
 */
export async function sbom(o: SbomOptions): Promise<SbomResult> {
  const keys = await loadTrustedKeys(o.pubs, o.trustedDir);
  const bundle = await verifyBundle(o.bundle, { keys });
  const fromEntry = bundle.manifest.entries.some((e) => e.path === SBOM_PATH);
  const text = fromEntry ? await readEntry(bundle, SBOM_PATH) : await buildSbom(bundle.manifest, filesOfBundle(bundle));
  if (o.out !== undefined) await writeFileAtomic(o.out, text);
  return { sbom: text, fromEntry, bundle, ...(o.out !== undefined ? { out: o.out } : {}) };
}
