import { AirgapError, readEntry, type BundleImage, type VerifiedBundle } from '@airgap/core';
import { imageDescriptors, type Descriptor } from '../images/image-closure.ts';
import { blobPath, imageGraph } from '../images/image-graph.ts';
import { checkCollisions, pushTarget, type PushTarget } from './push-target.ts';

export interface PlannedBlob {
  digest: string;
  size: number;
  /** Bundle entry holding it. */
  entry: string;
}

export interface PlannedManifest {
  digest: string;
  mediaType: string;
  entry: string;
  /** Platform, for indexes' children (messages and the partial-index fallback). */
  platform?: string;
}

export interface PlannedImage {
  target: PushTarget;
  /** What the tag points at: an index or a manifest, bytes as in the bundle. */
  root: PlannedManifest;
  /** Config and layer blobs, each once. */
  blobs: PlannedBlob[];
  /** Manifests below the root, children before parents (pushed by digest). */
  children: PlannedManifest[];
  /** Children of an index the bundle does not carry: `os/arch` of other platforms, `attestation` for an attestation manifest. */
  absent: string[];
  /**
   * A tagged name of a partial index: the bundler's index of the carried children, which the tag
   * gets where the registry refuses `root` for its missing children.
   */
  subset?: PlannedManifest & { platforms: string[] };
  bytes: number;
}

const platformOf = (d: Descriptor): string | undefined => {
  const p = d.platform as { os?: string; architecture?: string; variant?: string } | undefined;
  return p?.os && p.architecture ? [p.os, p.architecture, p.variant].filter(Boolean).join('/') : undefined;
};

/**
 * What to push for each image of the bundle, read from its OCI layout: the blobs, then manifests
 * children first, the root last. Indexes stay byte for byte, so children of other platforms that
 * the bundle does not carry are listed as absent rather than pushed.
 */
export async function planPush(bundle: VerifiedBundle, prefix: string): Promise<PlannedImage[]> {
  const layout = bundle.manifest.imageLayout;
  if (!layout || bundle.manifest.images.length === 0) return [];
  const roots = await imageDescriptors(bundle, bundle.manifest.images);
  const graph = imageGraph(bundle);
  const plans: PlannedImage[] = [];
  for (const [i, image] of bundle.manifest.images.entries()) {
    const root = roots[i]!;
    const plan: PlannedImage = {
      target: pushTarget(image.ref, prefix),
      root: { digest: root.digest, mediaType: root.mediaType, entry: blobPath(layout, root.digest) },
      blobs: [],
      children: [],
      absent: [],
      bytes: 0,
    };
    const blobs = new Map<string, PlannedBlob>();
    await graph.walk(root, image.ref, {
      absentChild: (child) =>
        plan.absent.push(child.annotations?.['vnd.docker.reference.type'] === 'attestation-manifest' ? 'attestation' : (platformOf(child) ?? child.digest)),
      blob: (b, entry, size) => {
        if (!blobs.has(b.digest)) blobs.set(b.digest, { digest: b.digest, size, entry });
      },
      node: (d, entry, isRoot) => {
        const platform = platformOf(d);
        if (!isRoot) plan.children.push({ digest: d.digest, mediaType: d.mediaType, entry, ...(platform ? { platform } : {}) });
      },
    });
    if (image.subset) plan.subset = await checkedSubset(bundle, layout, image, plan);
    plan.blobs = [...blobs.values()];
    plan.bytes = plan.blobs.reduce((n, b) => n + b.size, 0);
    plans.push(plan);
  }
  checkCollisions(plans.map((p) => ({ target: p.target, digest: p.root.digest })));
  // Tags first: how the registry takes a partial index under a tag tells how it will take one by digest.
  return [...plans.filter((p) => p.target.tag), ...plans.filter((p) => !p.target.tag)];
}

/**
 * The subset index the manifest names, checked before it is pushed: its bytes are the signed
 * entry, and it lists only children of the upstream index that the bundle carries.
 */
async function checkedSubset(bundle: VerifiedBundle, layout: string, image: BundleImage, plan: PlannedImage): Promise<NonNullable<PlannedImage['subset']>> {
  const subset = image.subset!;
  const entry = blobPath(layout, subset.digest);
  const bad = (why: string) =>
    new AirgapError('BUNDLE_INVALID', `${image.ref}: subset index ${subset.digest} ${why}`, { hint: 'rebuild the bundle with `bundler build`' });
  const listed = bundle.manifest.entries.find((e) => e.path === entry);
  if (!listed || `sha256:${listed.sha256}` !== subset.digest) throw bad('is not an entry of the bundle under its digest');
  const doc = JSON.parse((await readEntry(bundle, entry)).toString('utf8')) as { manifests?: Descriptor[] };
  const carried = new Set(plan.children.map((c) => c.digest));
  if (!Array.isArray(doc.manifests) || doc.manifests.length === 0 || !doc.manifests.every((d) => carried.has(d.digest)))
    throw bad('lists manifests the bundle does not carry');
  return { digest: subset.digest, mediaType: image.mediaType, entry, platforms: subset.platforms };
}
