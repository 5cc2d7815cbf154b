import type { Readable } from 'node:stream';
import { openEntry, readEntry, type VerifiedBundle } from '@airgap/core';
import { blobPath, imageDescriptors, type Descriptor } from '../images/image-closure.ts';
import { referrerDescriptor, type ReferrerDescriptor } from '../images/referrers-index.ts';
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
  /**
   * The referrers of `digest` in `repo` the bundle carries (OCI 1.1 referrers, not cosign's tags),
   * only those of `artifactType` when given; undefined when no image has that name.
   */
  referrers(repo: string, digest: string, ns: string | undefined, artifactType: string | undefined): Promise<ReferrerDescriptor[] | undefined>;
  imageCount: number;
}

export async function bundleRegistry(bundle: VerifiedBundle): Promise<BundleRegistry> {
  const layout = bundle.manifest.imageLayout;
  const roots: Descriptor[] = layout ? await imageDescriptors(bundle, bundle.manifest.images) : [];
  const tagged = bundle.manifest.images.map((image, i) => ({ ...splitRef(image.ref), descriptor: roots[i]! }));
  // cosign's tags and the referrers fallback tags beside each image, answered like its own tags.
  const evidence = bundle.manifest.images.flatMap((image) => (image.evidence ?? []).map((e) => ({ ...splitRef(image.ref), e })));
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
        const byEvidence = match ? undefined : evidence.find((x) => x.repo === repo && x.e.tag === reference && (ns === undefined || x.registry === ns));
        const found = match?.descriptor ?? byEvidence?.e;
        if (!found) return undefined;
        digest = found.digest;
        mediaType = found.mediaType;
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
      const own = named.flatMap((t) => (t.tag === undefined ? [] : [t.tag]));
      return [...own, ...evidence.filter((x) => x.repo === repo && x.e.tag && (ns === undefined || x.registry === ns)).map((x) => x.e.tag!)];
    },
    async referrers(repo, digest, ns, artifactType) {
      if (!tagged.some((t) => t.repo === repo && (ns === undefined || t.registry === ns))) return undefined;
      const out = new Map<string, ReferrerDescriptor>();
      for (const { e, repo: r, registry } of evidence) {
        if (e.kind !== 'referrer' || r !== repo || e.subject !== digest || (ns !== undefined && registry !== ns) || out.has(e.digest)) continue;
        if (artifactType !== undefined && e.artifactType !== artifactType) continue;
        const entry = entryFor(e.digest);
        if (!entry) continue;
        out.set(e.digest, referrerDescriptor(await readEntry(bundle, entry), e));
      }
      return [...out.values()];
    },
    blob(digest) {
      const entry = entryFor(digest);
      if (!entry) return undefined;
      return { size: sizes.get(entry)!, open: () => openEntry(bundle, entry) };
    },
  };
}
