import { createHash } from 'node:crypto';
import * as Enums from '@cyclonedx/cyclonedx-library/Enums';
import * as Models from '@cyclonedx/cyclonedx-library/Models';
import * as Serialize from '@cyclonedx/cyclonedx-library/Serialize';
import * as Spec from '@cyclonedx/cyclonedx-library/Spec';
import type { BundleManifest, BundleSource } from '@airgap/core';
import { applierComponents, configComponents } from './file-components.ts';
import { imageComponents } from './image-components.ts';
import { property } from './properties.ts';
import { filesOfSources, type SbomFiles } from './sbom-files.ts';
import { serialNumberOf } from './serial-number.ts';
import { snapComponent } from './snap-components.ts';

/** The SBOM's entry in every bundle: signed like any entry (listed in the manifest and SHA256SUMS). */
export const SBOM_PATH = 'airgap/sbom.cdx.json';
export const SBOM_SPEC_VERSION = '1.6';

export type SbomManifest = Omit<BundleManifest, 'entries'>;

/**
 * The bundle's CycloneDX 1.6 JSON SBOM. The bundle is the root component (`metadata.component`):
 * name, `sequence` as its version (createdAt when the bundle has none) and createdAt. It cannot
 * name the manifest's digest: the SBOM is an entry the signed manifest lists, so the manifest is
 * only known after it. Same manifest and files, same bytes: lists sorted by the library
 * (`sortLists`), the timestamp is createdAt (SOURCE_DATE_EPOCH), the serial number is derived
 * from the rest of the document.
 */
export async function buildSbom(manifest: SbomManifest, files: SbomFiles): Promise<Buffer> {
  const root = new Models.Component(Enums.ComponentType.Application, manifest.name, {
    bomRef: 'bundle',
    version: manifest.sequence !== undefined ? String(manifest.sequence) : manifest.createdAt,
  });
  for (const p of [
    property('airgap:bundle:createdAt', manifest.createdAt),
    property('airgap:bundle:expiresAt', manifest.expiresAt),
    property('airgap:bundle:formatVersion', String(manifest.formatVersion)),
    property('airgap:bundle:signer', manifest.signer || undefined),
    property('airgap:bundle:k8sRelease', manifest.k8s?.release),
    ...manifest.platforms.map((p) => property('airgap:bundle:platform', p)),
  ])
    if (p) root.properties.add(p);
  const components = [
    ...(await Promise.all(manifest.snaps.map((s) => snapComponent(s, files)))),
    ...(await imageComponents(manifest, files)),
    ...(await applierComponents(manifest, files)),
    ...(await configComponents(manifest, files)),
  ];
  const bom = new Models.Bom();
  bom.metadata.timestamp = new Date(manifest.createdAt);
  bom.metadata.component = root;
  const [tool, version] = manifest.generator.split(' ');
  bom.metadata.tools.components.add(new Models.Component(Enums.ComponentType.Application, tool ?? manifest.generator, version ? { version } : {}));
  for (const c of components) {
    bom.components.add(c);
    root.dependencies.add(c.bomRef);
  }
  const serializer = new Serialize.JsonSerializer(new Serialize.JSON.Normalize.Factory(Spec.Spec1dot6));
  const unnumbered = serializer.serialize(bom, { sortLists: true, space: 2 });
  bom.serialNumber = serialNumberOf(createHash('sha256').update(unnumbered).digest('hex'));
  return Buffer.from(`${serializer.serialize(bom, { sortLists: true, space: 2 })}\n`);
}

/** The SBOM entry of a planned bundle, computed from the plan's manifest and sources before anything is written. */
export async function sbomSource(plan: { manifest: SbomManifest; sources: readonly BundleSource[] }): Promise<BundleSource> {
  return { path: SBOM_PATH, data: await buildSbom(plan.manifest, filesOfSources(plan.sources)) };
}
