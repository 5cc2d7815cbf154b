import * as Enums from '@cyclonedx/cyclonedx-library/Enums';
import * as Models from '@cyclonedx/cyclonedx-library/Models';
import type { BundleManifest } from '@airgap/core';
import { applierEntryPlatform } from '../applier-binaries.ts';
import { property } from './properties.ts';
import type { SbomFiles } from './sbom-files.ts';

/** The standalone applier executables, by SHA-256 (the version is the bundler's: both come from one checkout). */
export async function applierComponents(manifest: Pick<BundleManifest, 'generator'>, files: SbomFiles): Promise<Models.Component[]> {
  const version = manifest.generator.split(' ').at(-1);
  const out: Models.Component[] = [];
  for (const file of [...files.values()].sort((a, b) => (a.path < b.path ? -1 : 1))) {
    const platform = applierEntryPlatform(file.path);
    if (!platform) continue;
    const { sha256, size } = await file.digest();
    const c = new Models.Component(Enums.ComponentType.Application, 'airgap-applier', { bomRef: `file:${file.path}`, ...(version ? { version } : {}) });
    c.hashes.set(Enums.HashAlgorithm['SHA-256'], sha256);
    for (const p of [property('airgap:platform', platform), property('airgap:entry', file.path), property('airgap:size', String(size))])
      if (p) c.properties.add(p);
    out.push(c);
  }
  return out;
}

/** The containerd hosts files (and their CA files) and the bootstrap config, with where each lands on the node. */
export async function configComponents(manifest: Pick<BundleManifest, 'containerd' | 'bootstrapConfig'>, files: SbomFiles): Promise<Models.Component[]> {
  const placed = [
    ...manifest.containerd.files.map((f) => ({ path: f.path, target: `${manifest.containerd.hostsDir}/${f.target}`, role: 'containerd-hosts' })),
    ...(manifest.bootstrapConfig ? [{ path: manifest.bootstrapConfig, target: undefined, role: 'k8s-bootstrap-config' }] : []),
  ];
  const out: Models.Component[] = [];
  for (const f of placed) {
    const file = files.get(f.path);
    if (!file) continue;
    const { sha256, size } = await file.digest();
    const c = new Models.Component(Enums.ComponentType.File, f.path, { bomRef: `file:${f.path}` });
    c.hashes.set(Enums.HashAlgorithm['SHA-256'], sha256);
    for (const p of [property('airgap:role', f.role), property('airgap:target', f.target), property('airgap:size', String(size))]) if (p) c.properties.add(p);
    out.push(c);
  }
  return out;
}
