import { MANIFEST_TYPES, readBundleRange, type BundleImage, type VerifiedBundle } from '@airgap/core';
import { imageDescriptors } from './image-closure.ts';
import { imageGraph } from './image-graph.ts';

/**
 * When a layer's unpacked size cannot be read from its own bytes (a zstd frame without a content
 * size, a multi-member gzip such as eStargz, an unknown compression), it is taken as this many
 * times its compressed size. gzip and zstd at their default levels shrink the binaries, libraries
 * and text of typical image layers 2 to 3 times; the upper end errs towards refusing early rather
 * than running out of space late.
 */
export const UNPACK_FACTOR = 3;

/**
 * An unpacked layer takes more than its tar holds: every file and folder of a snapshot takes
 * whole blocks and an inode, where the tar packs them into 512-byte records. 10% on top of the
 * tar's size covers that for the usual mix of files; a layer of very many tiny files can need more.
 */
export const SNAPSHOT_OVERHEAD = 1.1;

/** What importing images writes below containerd's root, and what a side-load tar of them holds. */
export interface ImagesDiskUse {
  /** Compressed blobs (indexes, manifests, configs, layers) in the content store, each once. */
  contentBytes: number;
  /** Estimated size of the unpacked layers (the snapshots) of the node's platform. */
  unpackedBytes: number;
  /** Layers whose unpacked size was estimated with UNPACK_FACTOR, not read from the layer. */
  estimatedLayers: number;
  /** Bytes of the OCI tar that side-loads each image, by ref. */
  tarBytes: Map<string, number>;
}

interface Layer {
  digest: string;
  mediaType: string;
  entry: string;
  size: number;
}

/**
 * containerd keeps an imported image twice: the blobs as they came in its content store
 * (`io.containerd.content.v1.content`) and each layer of the platform it unpacks as a committed
 * snapshot (`io.containerd.snapshotter.v1.overlayfs`); see containerd's docs/content-flow.md,
 * "Content Areas". Blobs and layers shared by several images are counted once.
 */
export async function imagesDiskUse(bundle: VerifiedBundle, images: readonly BundleImage[], arch: string): Promise<ImagesDiskUse> {
  const graph = imageGraph(bundle);
  const content = new Map<string, number>();
  const unpack = new Map<string, Layer>();
  const tarBytes = new Map<string, number>();
  const roots = await imageDescriptors(bundle, images);
  for (const [i, root] of roots.entries()) {
    const blobs = new Map<string, number>();
    let pending: Layer[] = [];
    await graph.walk(root, images[i]!.ref, {
      blob: (d, entry, size) => {
        blobs.set(d.digest, size);
        if (/layer|rootfs/.test(d.mediaType)) pending.push({ digest: d.digest, mediaType: d.mediaType, entry, size });
      },
      node: (d) => {
        blobs.set(d.digest, d.size);
        if (!MANIFEST_TYPES.has(d.mediaType)) return;
        // Only the node's platform is unpacked (ctr images import); a manifest without a platform
        // (the root itself) is. Attestation manifests (unknown/unknown) are not.
        const p = d.platform;
        if (!p || (p.os === 'linux' && p.architecture === arch)) for (const l of pending) unpack.set(l.digest, l);
        pending = [];
      },
    });
    for (const [digest, size] of blobs) content.set(digest, size);
    // oci-layout and index.json, then a 512-byte header and 512-byte records per blob, then the end blocks.
    tarBytes.set(images[i]!.ref, 4096 + [...blobs.values()].reduce((n, s) => n + 512 + Math.ceil(s / 512) * 512, 0) + 1024);
  }
  let unpackedBytes = 0;
  let estimatedLayers = 0;
  for (const layer of unpack.values()) {
    const tar = await tarSize(bundle, layer);
    if (tar === undefined) estimatedLayers++;
    unpackedBytes += Math.ceil(((tar ?? layer.size * UNPACK_FACTOR) * SNAPSHOT_OVERHEAD) / 4096) * 4096;
  }
  // Each blob is a file of its own in the content store: whole 4 KiB blocks.
  return { contentBytes: [...content.values()].reduce((n, s) => n + Math.ceil(s / 4096) * 4096, 0), unpackedBytes, estimatedLayers, tarBytes };
}

/** The uncompressed tar size of a layer when its bytes say it, else undefined. */
async function tarSize(bundle: VerifiedBundle, layer: Layer): Promise<number | undefined> {
  if (/gzip/.test(layer.mediaType)) {
    // RFC 1952: the last 4 bytes are ISIZE, the input size mod 2^32, of the last member. Below the
    // compressed size it is not the whole layer's (a multi-member gzip, or 4 GiB and more).
    const isize = layer.size >= 18 ? (await entryBytes(bundle, layer.entry, layer.size - 4, 4)).readUInt32LE(0) : 0;
    return isize >= layer.size ? isize : undefined;
  }
  if (/zstd/.test(layer.mediaType)) return zstdContentSize(await entryBytes(bundle, layer.entry, 0, Math.min(18, layer.size)), layer.size);
  // An uncompressed tar layer (`…layer.v1.tar`, `…rootfs.diff.tar`) is its own size.
  if (/\.tar$/.test(layer.mediaType)) return layer.size;
  return undefined;
}

/**
 * RFC 8878 §3.1.1: the Frame_Content_Size of the first frame, when the encoder wrote one. Streaming
 * encoders often do not; a layer of several frames (zstd:chunked) is more than the first, so a
 * size below the compressed one is not trusted.
 */
function zstdContentSize(head: Buffer, compressed: number): number | undefined {
  if (head.length < 6 || head.readUInt32LE(0) !== 0xfd2fb528) return undefined;
  const fhd = head[4]!;
  const fcsFlag = fhd >> 6;
  const single = (fhd >> 5) & 1;
  const didSize = [0, 1, 2, 4][fhd & 3]!;
  const fcsSize = [single ? 1 : 0, 2, 4, 8][fcsFlag]!;
  if (fcsSize === 0) return undefined;
  const at = 5 + (single ? 0 : 1) + didSize;
  if (head.length < at + fcsSize) return undefined;
  const size =
    fcsSize === 1 ? head[at]! : fcsSize === 2 ? head.readUInt16LE(at) + 256 : fcsSize === 4 ? head.readUInt32LE(at) : Number(head.readBigUInt64LE(at));
  return size >= compressed ? size : undefined;
}

/** `length` bytes of an entry from `offset`: a small ranged read, not the whole blob. */
async function entryBytes(bundle: VerifiedBundle, entry: string, offset: number, length: number): Promise<Buffer> {
  const location = bundle.locations.find((l) => l.entry.path === entry);
  if (!location || length === 0) return Buffer.alloc(0);
  const start = location.dataOffset + offset;
  const chunks: Buffer[] = [];
  for await (const chunk of readBundleRange(bundle, start, start + length - 1)) chunks.push(Buffer.from(chunk as Uint8Array));
  return Buffer.concat(chunks);
}
