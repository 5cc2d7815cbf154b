import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { once } from 'node:events';
import path from 'node:path';
import { encodeHeader } from '@airgap/core';

export interface SyntheticImages {
  /** OCI image layout holding every image, each tagged `appN` (org.opencontainers.image.ref.name). */
  layout: string;
  tags: string[];
  /** Bytes of distinct blobs (each shared layer counted once). */
  bytes: number;
  layers: { perImage: number; shared: number };
}

const IMAGES = 6;
const SHARED_LAYERS = 2;
const OWN_LAYERS = 6;
/** Of the image bytes, this share sits in the layers every image has. */
const SHARED_SHARE = 0.25;

/**
 * Single-platform images with many uncompressed layers, the first two shared by every image (as a
 * base image's are). Each layer is a real tar holding one file of random bytes, so containerd can
 * unpack it and nothing compresses.
 */
export async function makeImages(dir: string, bytes: number): Promise<SyntheticImages> {
  const layout = path.join(dir, 'oci');
  const blobs = path.join(layout, 'blobs', 'sha256');
  await mkdir(blobs, { recursive: true });
  const put = async (data: Buffer) => {
    const hex = createHash('sha256').update(data).digest('hex');
    await writeFile(path.join(blobs, hex), data);
    return { digest: `sha256:${hex}`, size: data.length };
  };
  const sharedSize = Math.floor((bytes * SHARED_SHARE) / SHARED_LAYERS);
  const ownSize = Math.floor((bytes * (1 - SHARED_SHARE)) / (IMAGES * OWN_LAYERS));
  const shared = [];
  for (let i = 0; i < SHARED_LAYERS; i++) shared.push(await randomLayer(blobs, `base/${i}.bin`, sharedSize));
  const manifests = [];
  const tags: string[] = [];
  for (let n = 0; n < IMAGES; n++) {
    const layers = [...shared];
    for (let i = 0; i < OWN_LAYERS; i++) layers.push(await randomLayer(blobs, `app${n}/${i}.bin`, ownSize));
    const config = await put(
      Buffer.from(
        JSON.stringify({
          architecture: 'amd64',
          os: 'linux',
          config: { Cmd: ['/bin/true'] },
          rootfs: { type: 'layers', diff_ids: layers.map((l) => l.digest) },
        }),
      ),
    );
    const mediaType = 'application/vnd.oci.image.manifest.v1+json';
    const manifest = await put(
      Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType,
          config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
          layers: layers.map((l) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar', ...l })),
        }),
      ),
    );
    tags.push(`app${n}`);
    manifests.push({
      mediaType,
      ...manifest,
      platform: { architecture: 'amd64', os: 'linux' },
      annotations: { 'org.opencontainers.image.ref.name': `app${n}` },
    });
  }
  await writeFile(path.join(layout, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  await writeFile(path.join(layout, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests }));
  return {
    layout,
    tags,
    bytes: SHARED_LAYERS * sharedSize + IMAGES * OWN_LAYERS * ownSize,
    layers: { perImage: SHARED_LAYERS + OWN_LAYERS, shared: SHARED_LAYERS },
  };
}

/** A layer tar with one file of `size` random bytes, written straight into the blob folder. */
async function randomLayer(blobs: string, name: string, size: number): Promise<{ digest: string; size: number }> {
  const tmp = path.join(blobs, `.tmp-${process.pid}`);
  const out = createWriteStream(tmp);
  const hash = createHash('sha256');
  let written = 0;
  const write = async (chunk: Buffer) => {
    hash.update(chunk);
    written += chunk.length;
    if (!out.write(chunk)) await once(out, 'drain');
  };
  await write(encodeHeader({ name, size, mode: 0o644, mtime: 0 }));
  for await (const chunk of createReadStream('/dev/urandom', { start: 0, end: size - 1, highWaterMark: 1024 * 1024 }) as AsyncIterable<Buffer>)
    await write(chunk);
  await write(Buffer.alloc(((512 - (size % 512)) % 512) + 1024));
  out.end();
  await once(out, 'close');
  const hex = hash.digest('hex');
  await rename(tmp, path.join(blobs, hex));
  return { digest: `sha256:${hex}`, size: written };
}
