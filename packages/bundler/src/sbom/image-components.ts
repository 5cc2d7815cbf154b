import * as Enums from '@cyclonedx/cyclonedx-library/Enums';
import * as Models from '@cyclonedx/cyclonedx-library/Models';
import { PackageURL } from 'packageurl-js';
import {
  INDEX_TYPES,
  splitReference,
  type BundleEvidence,
  type BundleImage,
  type BundleManifest,
  type Descriptor,
  type ImageIndexDoc,
  type ImageManifestDoc,
} from '@airgap/core';
import { property } from './properties.ts';
import type { SbomFiles } from './sbom-files.ts';

/** BuildKit's attestation manifests in an index (ERRATA "Registries and the images real sites carry"). */
const REFERENCE_TYPE = 'vnd.docker.reference.type';
const REFERENCE_DIGEST = 'vnd.docker.reference.digest';

interface Walk {
  files: SbomFiles;
  layout: string;
  /** The purl's name and repository_url: the same for every manifest of one image. */
  name: string;
  repositoryUrl: string;
}

/**
 * One `container` component per image name, with the manifests the bundle carries of it as
 * sub-components, and their config and layers, by digest, below them. CycloneDX's nested
 * `components` are "a hierarchical representation of component assemblies" (bom-1.6.schema.json,
 * component.components), which an index → manifest → layer tree is; the digests are also the
 * purl versions (package-url/purl-spec, types/oci-definition.json: `pkg:oci/NAME@sha256:…` with
 * `repository_url`, `tag` and `arch` qualifiers). The evidence carried beside an image (its
 * `evidence`: cosign signatures, attestations, SBOMs, referrers) is nested the same way, by digest.
 * A `repo@sha256:` alias of a tagged name the bundle also carries is the same image and is left out.
 */
export async function imageComponents(manifest: Pick<BundleManifest, 'images' | 'imageLayout'>, files: SbomFiles): Promise<Models.Component[]> {
  const out: Models.Component[] = [];
  for (const image of distinctImages(manifest.images)) out.push(await imageComponent(image, files, manifest.imageLayout ?? 'images'));
  return out;
}

function distinctImages(images: readonly BundleImage[]): BundleImage[] {
  const tagged = new Set(
    images.flatMap((i) => {
      const p = splitReference(i.ref);
      return p.tag ? [`${p.registry}/${p.repository}@${i.digest}`] : [];
    }),
  );
  return images.filter((i) => splitReference(i.ref).tag !== undefined || !tagged.has(i.ref.replace(/@.*/, `@${i.digest}`)));
}

async function imageComponent(image: BundleImage, files: SbomFiles, layout: string): Promise<Models.Component> {
  const parts = splitReference(image.ref);
  const walk: Walk = { files, layout, name: parts.repository.split('/').at(-1)!.toLowerCase(), repositoryUrl: `${parts.registry}/${parts.repository}` };
  const c = new Models.Component(Enums.ComponentType.Container, walk.name, {
    bomRef: `image:${image.ref}`,
    version: image.digest,
    purl: purl(walk, image.digest, { ...(parts.tag ? { tag: parts.tag } : {}) }),
  });
  c.hashes.set(Enums.HashAlgorithm['SHA-256'], image.digest.slice(7));
  add(c, [property('airgap:oci:reference', image.ref), property('airgap:oci:mediaType', image.mediaType), property('airgap:oci:subset', image.subset?.digest)]);
  for (const e of evidenceComponents(image.evidence ?? [], c.bomRef.value!)) c.components.add(e);
  const root = await readJson<ImageIndexDoc & ImageManifestDoc>(walk, image.digest);
  if (!root) return c;
  if (!INDEX_TYPES.has(image.mediaType)) {
    const platform = await configPlatform(walk, root.config);
    add(c, [property('airgap:oci:platform', platform)]);
    for (const part of manifestParts(root, c.bomRef.value!)) c.components.add(part);
    return c;
  }
  for (const child of root.manifests ?? []) {
    const doc = await readJson<ImageManifestDoc>(walk, child.digest);
    if (!doc) continue; // a platform the bundle does not carry
    const m = manifestComponent(walk, child, doc, c.bomRef.value!);
    if (!child.annotations?.[REFERENCE_TYPE] && child.platform) add(c, [property('airgap:oci:platform', platformOf(child.platform))]);
    c.components.add(m);
  }
  return c;
}

function manifestComponent(walk: Walk, d: Descriptor, doc: ImageManifestDoc, parent: string): Models.Component {
  const attestation = d.annotations?.[REFERENCE_TYPE];
  const platform = d.platform && !attestation ? platformOf(d.platform) : undefined;
  const c = new Models.Component(Enums.ComponentType.Container, walk.name, {
    bomRef: `${parent}#${d.digest}`,
    version: d.digest,
    purl: purl(walk, d.digest, platform ? { arch: d.platform!.architecture } : {}),
  });
  c.hashes.set(Enums.HashAlgorithm['SHA-256'], d.digest.slice(7));
  add(c, [
    property('airgap:oci:mediaType', d.mediaType),
    property('airgap:oci:platform', platform),
    property('airgap:oci:attestation', attestation),
    property('airgap:oci:attests', attestation ? d.annotations?.[REFERENCE_DIGEST] : undefined),
  ]);
  for (const part of manifestParts(doc, c.bomRef.value!)) c.components.add(part);
  return c;
}

/** A manifest's config and layers, each once, as `file` components named by digest. */
function manifestParts(doc: ImageManifestDoc, parent: string): Models.Component[] {
  const seen = new Map<string, Models.Component>();
  const parts: [string, Descriptor | undefined][] = [['config', doc.config], ...(doc.layers ?? []).map((l): [string, Descriptor] => ['layer', l])];
  for (const [role, d] of parts) {
    if (!d || seen.has(d.digest)) continue;
    const c = new Models.Component(Enums.ComponentType.File, d.digest, { bomRef: `${parent}#${d.digest}` });
    c.hashes.set(Enums.HashAlgorithm['SHA-256'], d.digest.slice(7));
    add(c, [property('airgap:oci:role', role), property('airgap:oci:mediaType', d.mediaType), property('airgap:oci:size', String(d.size))]);
    seen.set(d.digest, c);
  }
  return [...seen.values()];
}

/** The signatures, attestations and SBOMs carried beside the image (cosign tags, referrers), as `file` components by digest. */
function evidenceComponents(evidence: readonly BundleEvidence[], parent: string): Models.Component[] {
  const seen = new Map<string, Models.Component>();
  for (const e of evidence) {
    const ref = `${parent}#${e.kind}:${e.digest}`;
    if (seen.has(ref)) continue;
    const c = new Models.Component(Enums.ComponentType.File, e.digest, { bomRef: ref });
    c.hashes.set(Enums.HashAlgorithm['SHA-256'], e.digest.slice(7));
    add(c, [
      property('airgap:oci:role', 'evidence'),
      property('airgap:oci:evidence', e.kind),
      property('airgap:oci:subject', e.subject),
      property('airgap:oci:tag', e.tag),
      property('airgap:oci:mediaType', e.mediaType),
      property('airgap:oci:artifactType', e.artifactType),
      property('airgap:oci:size', String(e.size)),
    ]);
    seen.set(ref, c);
  }
  return [...seen.values()];
}

async function configPlatform(walk: Walk, config: Descriptor | undefined): Promise<string | undefined> {
  const doc = config ? await readJson<{ os?: string; architecture?: string; variant?: string }>(walk, config.digest) : undefined;
  return doc?.os && doc.architecture ? platformOf({ os: doc.os, architecture: doc.architecture, ...(doc.variant ? { variant: doc.variant } : {}) }) : undefined;
}

const platformOf = (p: { os: string; architecture: string; variant?: string }) => [p.os, p.architecture, ...(p.variant ? [p.variant] : [])].join('/');

function purl(walk: Walk, digest: string, qualifiers: Record<string, string>): string {
  return new PackageURL('oci', undefined, walk.name, digest, { repository_url: walk.repositoryUrl, ...qualifiers }, undefined).toString();
}

/** A manifest, index or config the bundle carries, or undefined when it does not carry it. */
async function readJson<T>(walk: Walk, digest: string): Promise<T | undefined> {
  const file = walk.files.get(`${walk.layout}/blobs/sha256/${digest.slice(7)}`);
  return file ? (JSON.parse((await file.read()).toString('utf8')) as T) : undefined;
}

function add(c: Models.Component, props: readonly (Models.Property | undefined)[]): void {
  for (const p of props) if (p) c.properties.add(p);
}
