import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import tar from 'tar-stream';
import { entrySizes, omittedFromNode, openEntry, type BundleImage, type VerifiedBundle } from '@airgap/core';
import { blobClosure, imageDescriptors } from './image-closure.ts';

/**
 * An OCI-layout tar of `images`, built on the fly from the bundle's entries (each re-checked
 * against its digest as it streams): oci-layout, index.json naming each image by its full ref in
 * `io.containerd.image.name`, and only the blobs those images need.
 */
export async function ociTarStream(
  bundle: VerifiedBundle,
  images: readonly BundleImage[],
  o: { /** The node's, for `ctr images import`. */ arch?: string } = {},
): Promise<Readable> {
  const layout = bundle.manifest.imageLayout!;
  const descriptors = await imageDescriptors(bundle, images);
  // Blobs a delta leaves out with no --base: containerd's content store has them (preflight checked), and
  // `ctr images import` takes what the tar lacks from there (core/images/archive/importer.go ImportIndex
  // writes each tar blob to the store; client/import.go then walks the index in the store, not the tar).
  const fromNode = new Set(omittedFromNode(bundle).map((e) => e.path));
  // Such a delta's import carries only the node's platform, as preflight checked only that: containerd
  // drops what its platform filter passes over (delta/delta-coverage.ts), and may lack it already.
  const blobs = await blobClosure(bundle, descriptors, fromNode.size > 0 ? o.arch : undefined);
  const sizes = entrySizes(bundle.manifest);
  const pack = tar.pack();
  const out = new PassThrough({ highWaterMark: 1024 * 1024 });
  const add = (name: string, data: string) =>
    new Promise<void>((resolve, reject) => pack.entry({ name, mode: 0o644, mtime: new Date(0) }, data, (err) => (err ? reject(err) : resolve())));
  const fill = async () => {
    await add('oci-layout', JSON.stringify({ imageLayoutVersion: '1.0.0' }));
    await add('index.json', JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: descriptors }));
    for (const blob of blobs.filter((b) => !fromNode.has(b))) {
      const sink = pack.entry({ name: blob.slice(layout.length + 1), size: sizes.get(blob)!, mode: 0o644, mtime: new Date(0) });
      await pipeline(openEntry(bundle, blob), sink);
    }
    pack.finalize();
  };
  fill().catch((err: Error) => out.destroy(err));
  pack.on('error', (err) => out.destroy(err));
  pack.pipe(out);
  return out;
}
