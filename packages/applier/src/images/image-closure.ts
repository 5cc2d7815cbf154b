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
 * Architectures a linux/`arch` node's containerd takes from an index: `ctr images import` without
 * --all-platforms walks only the manifests `platforms.Default()` matches, `Only(DefaultSpec())`,
 * which for amd64 also matches 386 and for arm64 every arm variant (containerd v1.6.20
 * platforms/compare.go platformVector; cmd/ctr/commands/images/import.go). Variants are not
 * compared: a superset of what containerd walks, never less.
 */
function archFamily(arch: string): string[] {
  if (arch === 'amd64') return ['amd64', '386'];
  if (arch === 'arm64') return ['arm64', 'arm'];
  return [arch];
}

/** Whether containerd on a linux/`arch` node walks into an index child: one without a platform always. */
export function nodeWalks(arch: string): (child: Descriptor) => boolean {
  const family = archFamily(arch);
  return (child) => !child.platform || (child.platform.os === 'linux' && family.includes(child.platform.architecture));
}

/**
 * Every blob the images need, in the bundle: indexes → manifests → config and layers. Children of
 * an index the bundle does not carry (other platforms) are left out; containerd 1.6 imports such
 * partial indexes (ERRATA). A manifest's config or layer that is missing is an error. With `arch`,
 * only what a linux/`arch` node's containerd walks (nodeWalks): other platforms' manifests and
 * their blobs are left out too.
 */
export async function blobClosure(bundle: VerifiedBundle, roots: readonly Descriptor[], arch?: string): Promise<string[]> {
  const graph = imageGraph(bundle);
  const out = new Set<string>();
  const enter = arch === undefined ? undefined : nodeWalks(arch);
  for (const root of roots) {
    await graph.walk(root, root.annotations?.[IMAGE_NAME_ANNOTATION] ?? root.digest, {
      ...(enter ? { enter } : {}),
      blob: (_d, entry) => out.add(entry),
      node: (_d, entry) => out.add(entry),
    });
  }
  return [...out].sort();
}
