import { IMAGE_NAME_ANNOTATION, OCI_INDEX, type BundleSource, type Descriptor } from '@airgap/core';
import type { BlobCache } from './blob-cache.ts';
import type { ResolvedImage } from './pull-image.ts';

/** Where the OCI image layout sits in every bundle. */
export const IMAGE_LAYOUT = 'images';

/**
 * One OCI image layout for all images: each blob once however many images share it, and an
 * index.json entry per image named by its full reference, which `ctr images import` reads.
 */
export function imageLayoutSources(images: readonly ResolvedImage[], cache: BlobCache): BundleSource[] {
  const entries = new Map<string, BundleSource>();
  for (const image of images) {
    for (const [digest, bytes] of image.manifests) entries.set(digest, { path: blobEntry(digest), data: bytes });
    for (const b of image.blobs) entries.set(b.digest, { path: blobEntry(b.digest), file: cache.pathOf(b.digest), sha256: b.digest.slice(7), size: b.size });
  }
  const manifests: Descriptor[] = [...images]
    .sort((a, b) => (a.ref < b.ref ? -1 : a.ref > b.ref ? 1 : 0))
    .map((i) => ({ mediaType: i.mediaType, digest: i.digest, size: i.size, annotations: { [IMAGE_NAME_ANNOTATION]: i.ref } }));
  return [
    { path: `${IMAGE_LAYOUT}/oci-layout`, data: Buffer.from('{"imageLayoutVersion":"1.0.0"}') },
    { path: `${IMAGE_LAYOUT}/index.json`, data: Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests })) },
    ...entries.values(),
  ];
}

const blobEntry = (digest: string) => `${IMAGE_LAYOUT}/blobs/sha256/${digest.slice('sha256:'.length)}`;
