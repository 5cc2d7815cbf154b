import { AirgapError, IMAGE_NAME_ANNOTATION, readEntry, type BundleImage, type Descriptor, type VerifiedBundle } from '@airgap/core';
import { blobPath, imageGraph } from './image-graph.ts';

export type { Descriptor };
export { blobPath };

const bad = (message: string) => new AirgapError('BUNDLE_INVALID', message, { hint: 'rebuild the bundle with `bundler build`' });

/** The descriptor of each wanted image in the bundle's index.json, matched by ref and digest. */
export async function imageDescriptors(bundle: VerifiedBundle, images: readonly BundleImage[]): Promise<Descriptor[]> {
  const layout = bundle.manifest.imageLayout;
  if (!layout) throw bad('the bundle lists images but has no image layout');
  const index = JSON.parse((await readEntry(bundle, `${layout}/index.json`)).toString('utf8')) as { manifests?: Descriptor[] };
  return images.map((image) => {
    const d = index.manifests?.find((m) => m.annotations?.[IMAGE_NAME_ANNOTATION] === image.ref && m.digest === image.digest);
    if (!d || typeof d.size !== 'number' || typeof d.mediaType !== 'string')
      throw bad(`${image.ref}@${image.digest} is not in the bundle's ${layout}/index.json`);
    return {
      mediaType: d.mediaType,
      digest: d.digest,
      size: d.size,
      ...(d.platform ? { platform: d.platform } : {}),
      annotations: { [IMAGE_NAME_ANNOTATION]: image.ref },
    };
  });
}

/**
 * Every blob the images need, in the bundle: indexes → manifests → config and layers. Children of
 * an index the bundle does not carry (other platforms) are left out; containerd 1.6 imports such
 * partial indexes (ERRATA). A manifest's config or layer that is missing is an error.
 */
export async function blobClosure(bundle: VerifiedBundle, roots: readonly Descriptor[]): Promise<string[]> {
  const graph = imageGraph(bundle);
  const out = new Set<string>();
  for (const root of roots) {
    await graph.walk(root, root.annotations?.[IMAGE_NAME_ANNOTATION] ?? root.digest, {
      blob: (_d, entry) => out.add(entry),
      node: (_d, entry) => out.add(entry),
    });
  }
  return [...out].sort();
}
