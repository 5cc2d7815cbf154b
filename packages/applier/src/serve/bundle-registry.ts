import type { Readable } from 'node:stream';
import { openEntry, readEntry, type VerifiedBundle } from '@airgap/core';
import { blobPath, imageDescriptors, type Descriptor } from '../images/image-closure.ts';
import { splitRef } from './routes.ts';

/** Manifests are small; anything larger is not served as one. */
const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

export interface ServedManifest {
  mediaType: string;
  digest: string;
  body: Buffer;
}

export interface BlobHandle {
  size: number;
  open(): Readable;
}

/** What a read-only registry backed by a verified bundle can answer. */
export interface BundleRegistry {
  manifest(repo: string, reference: string, ns: string | undefined): Promise<ServedManifest | undefined>;
  blob(digest: string): BlobHandle | undefined;
  /** The tags of `repo` (of registry `ns` when given), or undefined when no image has that name. */
  tags(repo: string, ns: string | undefined): string[] | undefined;
  imageCount: number;
}

export async function bundleRegistry(bundle: VerifiedBundle): Promise<BundleRegistry> {
  const layout = bundle.manifest.imageLayout;
  const roots: Descriptor[] = layout ? await imageDescriptors(bundle, bundle.manifest.images) : [];
  const tagged = bundle.manifest.images.map((image, i) => ({ ...splitRef(image.ref), descriptor: roots[i]! }));
  const sizes = new Map(bundle.manifest.entries.map((e) => [e.path, e.size]));
  const entryFor = (digest: string): string | undefined => {
    if (!layout) return undefined;
    const p = blobPath(layout, digest);
    return sizes.has(p) ? p : undefined;
  };
  return {
    imageCount: tagged.length,
    async manifest(repo, reference, ns) {
      let digest = reference;
      let mediaType: string | undefined;
      if (!reference.startsWith('sha256:')) {
        // containerd names the upstream registry in `ns` when it pulls through a mirror.
        const match = tagged.find((t) => t.repo === repo && t.tag === reference && (ns === undefined || t.registry === ns));
        if (!match) return undefined;
        digest = match.descriptor.digest;
        mediaType = match.descriptor.mediaType;
      }
      const entry = entryFor(digest);
      if (!entry || (sizes.get(entry) ?? 0) > MAX_MANIFEST_BYTES) return undefined;
      const body = await readEntry(bundle, entry);
      const declared = (JSON.parse(body.toString('utf8')) as { mediaType?: unknown }).mediaType;
      mediaType ??= typeof declared === 'string' ? declared : 'application/vnd.oci.image.manifest.v1+json';
      return { mediaType, digest, body };
    },
    tags(repo, ns) {
      const named = tagged.filter((t) => t.repo === repo && (ns === undefined || t.registry === ns));
      if (named.length === 0) return undefined;
      return named.flatMap((t) => (t.tag === undefined ? [] : [t.tag]));
    },
    blob(digest) {
      const entry = entryFor(digest);
      if (!entry) return undefined;
      return { size: sizes.get(entry)!, open: () => openEntry(bundle, entry) };
    },
  };
}
