import { digestReference, IMAGE_NAME_ANNOTATION, OCI_INDEX, splitReference, type BundleSource, type Descriptor } from '@airgap/core';
import type { BlobCache } from './blob-cache.ts';
import type { ResolvedImage } from './pull-image.ts';

/** Where the OCI image layout sits in every bundle. */
export const IMAGE_LAYOUT = 'images';

/** An image under one name: its reference as the spec wrote it, or its `repo@sha256:` alias. */
export interface NamedImage {
  name: string;
  image: ResolvedImage;
  /** The name has a tag, so a registry refusing a partial index can hold `image.subset` under it instead. */
  tagged: boolean;
}

/** Marks the bundler's subset index in the layout's index.json (it has no image name of its own). */
export const SUBSET_OF_ANNOTATION = 'dev.airgap.subset-of';

/**
 * Each tagged image also goes in under `repo@<its digest>`: CRI looks a pod's `image@sha256:…` up by
 * that name, which `ctr images import` only creates when the layout names it.
 */
export function imageNames(images: readonly ResolvedImage[]): NamedImage[] {
  const out = new Map<string, NamedImage>();
  for (const image of images) {
    const parts = splitReference(image.ref);
    out.set(image.ref, { name: image.ref, image, tagged: parts.tag !== undefined });
    const alias = digestReference(parts, image.digest);
    if (!out.has(alias)) out.set(alias, { name: alias, image, tagged: false });
  }
  return [...out.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/**
 * One OCI image layout for all images: each blob once however many images share it, and an
 * index.json entry per image name, which `ctr images import` reads.
 */
export function imageLayoutSources(names: readonly NamedImage[], cache: BlobCache): BundleSource[] {
  const entries = new Map<string, BundleSource>();
  for (const { image } of names) {
    for (const [digest, bytes] of image.manifests) entries.set(digest, { path: blobEntry(digest), data: bytes });
    for (const b of image.blobs) entries.set(b.digest, { path: blobEntry(b.digest), file: cache.pathOf(b.digest), sha256: b.digest.slice(7), size: b.size });
  }
  const manifests: Descriptor[] = names.map(({ name, image: i }) => ({
    mediaType: i.mediaType,
    digest: i.digest,
    size: i.size,
    annotations: { [IMAGE_NAME_ANNOTATION]: name },
  }));
  const subsets = new Map<string, Descriptor>();
  for (const { image: i } of names)
    if (i.subset)
      subsets.set(i.subset.digest, { mediaType: i.mediaType, digest: i.subset.digest, size: i.subset.size, annotations: { [SUBSET_OF_ANNOTATION]: i.digest } });
  manifests.push(...subsets.values());
  return [
    { path: `${IMAGE_LAYOUT}/oci-layout`, data: Buffer.from('{"imageLayoutVersion":"1.0.0"}') },
    { path: `${IMAGE_LAYOUT}/index.json`, data: Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests })) },
    ...entries.values(),
  ];
}

const blobEntry = (digest: string) => `${IMAGE_LAYOUT}/blobs/sha256/${digest.slice('sha256:'.length)}`;
