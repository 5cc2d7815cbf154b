import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { hashFile, readEntry, type BundleSource, type VerifiedBundle } from '@airgap/core';

/**
 * A payload entry as the SBOM sees it, whether it is still a source of the plan or already an
 * entry of a verified bundle. `read` is only called for the small files the SBOM describes (image
 * manifests and configs, snap assertions); `digest` streams, for the applier executables.
 */
export interface SbomFile {
  path: string;
  read(): Promise<Buffer>;
  digest(): Promise<{ sha256: string; size: number }>;
}

export type SbomFiles = ReadonlyMap<string, SbomFile>;

const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');

/** The plan's sources, before the bundle is written: the SBOM is one of its entries. */
export function filesOfSources(sources: readonly BundleSource[]): SbomFiles {
  const out = new Map<string, SbomFile>();
  for (const s of sources) {
    if ('data' in s) {
      const data = Buffer.from(s.data);
      out.set(s.path, { path: s.path, read: () => Promise.resolve(data), digest: () => Promise.resolve({ sha256: sha256(data), size: data.length }) });
      continue;
    }
    const { file } = s;
    const known = s.sha256 !== undefined && s.size !== undefined ? { sha256: s.sha256, size: s.size } : undefined;
    out.set(s.path, {
      path: s.path,
      read: () => readFile(file),
      digest: async () => known ?? (await hashFile(file)),
    });
  }
  return out;
}

/** The entries of a verified bundle (an older one, built before bundles carried their SBOM). */
export function filesOfBundle(bundle: VerifiedBundle): SbomFiles {
  const out = new Map<string, SbomFile>();
  for (const e of bundle.manifest.entries) {
    out.set(e.path, { path: e.path, read: () => readEntry(bundle, e.path), digest: () => Promise.resolve({ sha256: e.sha256, size: e.size }) });
  }
  return out;
}
