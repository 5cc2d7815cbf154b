import { AirgapError, DIGEST_PATTERN, IMAGE_NAME_ANNOTATION, INDEX_TYPES, MANIFEST_TYPES, readEntry, type BundleImage, type Descriptor, type VerifiedBundle } from '@airgap/core';

export type { Descriptor };

const bad = (message: string) => new AirgapError('BUNDLE_INVALID', message, { hint: 'rebuild the bundle with `bundler build`' });

export function blobPath(layout: string, digest: string): string {
  if (!DIGEST_PATTERN.test(digest)) throw bad(`image blob digest ${JSON.stringify(digest)} is not sha256:<64 hex>`);
  return `${layout}/blobs/sha256/${digest.slice('sha256:'.length)}`;
}

/** The descriptor of each wanted image in the bundle's index.json, matched by ref and digest. */
export async function imageDescriptors(bundle: VerifiedBundle, images: readonly BundleImage[]): Promise<Descriptor[]> {
  const layout = bundle.manifest.imageLayout;
  if (!layout) throw bad('the bundle lists images but has no image layout');
  const index = JSON.parse((await readEntry(bundle, `${layout}/index.json`)).toString('utf8')) as { manifests?: Descriptor[] };
  return images.map((image) => {
    const d = index.manifests?.find((m) => m.annotations?.[IMAGE_NAME_ANNOTATION] === image.ref && m.digest === image.digest);
    if (!d || typeof d.size !== 'number' || typeof d.mediaType !== 'string') throw bad(`${image.ref}@${image.digest} is not in the bundle's ${layout}/index.json`);
    return { mediaType: d.mediaType, digest: d.digest, size: d.size, ...(d.platform ? { platform: d.platform } : {}), annotations: { [IMAGE_NAME_ANNOTATION]: image.ref } };
  });
}

/**
 * Every blob the images need, in the bundle: indexes → manifests → config and layers. Children of
 * an index the bundle does not carry (other platforms) are left out; containerd 1.6 imports such
 * partial indexes (ERRATA). A manifest's config or layer that is missing is an error.
 */
export async function blobClosure(bundle: VerifiedBundle, roots: readonly Descriptor[]): Promise<string[]> {
  const layout = bundle.manifest.imageLayout!;
  const present = new Set(bundle.manifest.entries.map((e) => e.path));
  const out = new Set<string>();
  const queue: { d: Descriptor; optional: boolean }[] = roots.map((d) => ({ d, optional: false }));
  while (queue.length > 0) {
    const { d, optional } = queue.shift()!;
    const entry = blobPath(layout, d.digest);
    if (!present.has(entry)) {
      if (optional) continue;
      throw bad(`${entry} (${d.mediaType}) is missing from the bundle`);
    }
    if (out.has(entry)) continue;
    out.add(entry);
    if (INDEX_TYPES.has(d.mediaType)) {
      const index = JSON.parse((await readEntry(bundle, entry)).toString('utf8')) as { manifests?: Descriptor[] };
      for (const child of index.manifests ?? []) queue.push({ d: child, optional: true });
    } else if (MANIFEST_TYPES.has(d.mediaType)) {
      const manifest = JSON.parse((await readEntry(bundle, entry)).toString('utf8')) as { config?: Descriptor; layers?: Descriptor[] };
      if (!manifest.config) throw bad(`${entry} has no config`);
      for (const child of [manifest.config, ...(manifest.layers ?? [])]) queue.push({ d: child, optional: false });
    }
  }
  return [...out].sort();
}
