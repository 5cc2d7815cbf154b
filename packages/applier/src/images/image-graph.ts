import { AirgapError, DIGEST_PATTERN, entrySizes, INDEX_TYPES, MANIFEST_TYPES, readEntry, type Descriptor, type VerifiedBundle } from '@airgap/core';

/** What a walk of one image's graph in the bundle meets, in order. */
export interface ImageVisitor {
  /** A child of an index the bundle does not carry (another platform, an attestation manifest). */
  absentChild?: (child: Descriptor) => void;
  /** A carried child of an index: false leaves it, and all below it, unwalked (another platform's manifest). */
  enter?: (child: Descriptor) => boolean;
  /** A config or layer blob of a manifest, with its size in the bundle (once per manifest naming it). */
  blob?: (d: Descriptor, entry: string, size: number) => void;
  /** The root or a manifest below it, after everything below it: children come before their parents. */
  node?: (d: Descriptor, entry: string, isRoot: boolean) => void;
}

export interface ImageGraph {
  /**
   * Walk `root` depth first: index → its carried children → manifest → config and layers. Each
   * node once. A missing root, config or layer is BUNDLE_INVALID naming `image`.
   */
  walk(root: Descriptor, image: string, visit: ImageVisitor): Promise<void>;
}

const bad = (message: string) => new AirgapError('BUNDLE_INVALID', message, { hint: 'rebuild the bundle with `bundler build`' });

/** The layout entry of a blob; refuses a digest that is not sha256 (it would name another path). */
export function blobPath(layout: string, digest: string): string {
  if (!DIGEST_PATTERN.test(digest)) throw bad(`image blob digest ${JSON.stringify(digest)} is not sha256:<64 hex>`);
  return `${layout}/blobs/sha256/${digest.slice('sha256:'.length)}`;
}

/** The one reader of the image graph of a bundle's OCI layout (image closure, push plan). */
export function imageGraph(bundle: VerifiedBundle): ImageGraph {
  const layout = bundle.manifest.imageLayout;
  if (!layout) throw bad('the bundle lists images but has no image layout');
  // A delta's omitted blobs count as carried: its base, or containerd, supplies them (core bundle/delta.ts).
  const sizes = entrySizes(bundle.manifest);
  const readDoc = async <T>(entry: string) => JSON.parse((await readEntry(bundle, entry)).toString('utf8')) as T;
  return {
    async walk(root, image, visit) {
      const seen = new Set<string>();
      const missing = (entry: string, d: Descriptor) => bad(`${image}: ${entry} (${d.mediaType}) is missing from the bundle`);
      const walk = async (d: Descriptor, isRoot: boolean): Promise<void> => {
        const entry = blobPath(layout, d.digest);
        if (seen.has(d.digest)) return;
        seen.add(d.digest);
        if (!sizes.has(entry)) throw missing(entry, d);
        if (INDEX_TYPES.has(d.mediaType)) {
          const index = await readDoc<{ manifests?: Descriptor[] }>(entry);
          for (const child of index.manifests ?? []) {
            if (!sizes.has(blobPath(layout, child.digest))) visit.absentChild?.(child);
            else if (visit.enter?.(child) !== false) await walk(child, false);
          }
        } else if (MANIFEST_TYPES.has(d.mediaType)) {
          const manifest = await readDoc<{ config?: Descriptor; layers?: Descriptor[] }>(entry);
          if (!manifest.config) throw bad(`${image}: ${entry} has no config`);
          for (const b of [manifest.config, ...(manifest.layers ?? [])]) {
            const path = blobPath(layout, b.digest);
            const size = sizes.get(path);
            if (size === undefined) throw missing(path, b);
            visit.blob?.(b, path, size);
          }
        }
        visit.node?.(d, entry, isRoot);
      };
      await walk(root, true);
    },
  };
}
