import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { execa } from 'execa';
import tar from 'tar-stream';

export interface MadeImage {
  /** Digest of what the tag points at: the index for several platforms, else the manifest. */
  digest: string;
  mediaType: string;
  /** platform → manifest digest */
  manifests: Record<string, string>;
  /** platform → digest of its BuildKit attestation manifest (with `attestations`). */
  attestations: Record<string, string>;
  /** Every config and layer digest with its size. */
  blobs: { digest: string; size: number }[];
}

export interface MakeImageOptions {
  layoutDir: string;
  /** ref.name in the layout, used by `skopeo copy oci:DIR:TAG`. */
  tag: string;
  platforms: string[];
  /** Random bytes per image layer (incompressible), one layer each. */
  layerSizes?: number[];
  /** Layers shared verbatim with other images (e.g. a common base). */
  sharedLayers?: Buffer[];
  /** gzip the layers (like most real images) */
  gzip?: boolean;
  /** zstd the layers instead (`zstd` CLI; what `docker buildx --output compression=zstd` makes). */
  zstd?: boolean;
  /**
   * BuildKit attestation manifests, as `docker buildx build --attest` pushes them (every Docker Hub
   * official image has them): after the platform manifests, one per platform with platform
   * unknown/unknown, annotations vnd.docker.reference.type=attestation-manifest and
   * vnd.docker.reference.digest=<the platform manifest>, an in-toto JSON layer each.
   */
  attestations?: boolean;
  /** Annotations of the index itself (BuildKit writes some with --annotation index:…). */
  indexAnnotations?: Record<string, string>;
  /** An index even for one platform (a single-platform image with attestations is one). */
  forceIndex?: boolean;
  /** Layer bytes derived from the tag instead of random: the same image, digests and all, every run. */
  seeded?: boolean;
}

/** n pseudo-random bytes that depend only on `seed`. */
function seededBytes(seed: string, n: number): Buffer {
  const out = Buffer.alloc(n);
  for (let off = 0, i = 0; off < n; i++) off += createHash('sha256').update(`${seed}/${i}`).digest().copy(out, off);
  return out;
}

const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** A real tar layer holding `files`. */
export async function tarLayer(files: Record<string, Buffer | string>): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (c: unknown) => chunks.push(c as Buffer));
  const ended = new Promise<void>((resolve, reject) => {
    pack.on('end', resolve);
    pack.on('error', reject);
  });
  for (const [name, content] of Object.entries(files).sort()) pack.entry({ name, mode: 0o644, mtime: new Date(0), uid: 0, gid: 0 }, content);
  pack.finalize();
  await ended;
  return Buffer.concat(chunks);
}

/**
 * Write an image into an OCI layout (made by hand, checked by skopeo when it copies it): a Docker-
 * style index over one manifest per platform, each with its own layers plus the shared ones.
 */
export async function makeImage(o: MakeImageOptions): Promise<MadeImage> {
  const blobsDir = path.join(o.layoutDir, 'blobs', 'sha256');
  await mkdir(blobsDir, { recursive: true });
  await writeFile(path.join(o.layoutDir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  const put = async (b: Buffer) => {
    const digest = sha(b);
    await writeFile(path.join(blobsDir, digest.slice(7)), b);
    return { digest, size: b.length };
  };
  const blobs: { digest: string; size: number }[] = [];
  const manifests: Record<string, string> = {};
  const descriptors: unknown[] = [];
  const layerType = o.zstd
    ? 'application/vnd.oci.image.layer.v1.tar+zstd'
    : o.gzip
      ? 'application/vnd.oci.image.layer.v1.tar+gzip'
      : 'application/vnd.oci.image.layer.v1.tar';
  const compress = async (b: Buffer) =>
    o.zstd ? Buffer.from((await execa('zstd', ['-q', '-c', '-3'], { input: b, encoding: 'buffer' })).stdout) : o.gzip ? gzipSync(b) : b;
  const attestations: Record<string, string> = {};
  const attestationDescriptors: unknown[] = [];
  for (const platform of o.platforms) {
    const [os, architecture, variant] = platform.split('/');
    const own = await Promise.all(
      (o.layerSizes ?? [1024]).map((n, i) =>
        tarLayer({ [`data/${i}.bin`]: o.seeded ? seededBytes(`${o.tag}/${platform}/${i}`, n) : randomBytes(n), 'etc/platform': `${o.tag} ${platform}\n` }),
      ),
    );
    const raw = [...(o.sharedLayers ?? []), ...own];
    const layers = [];
    for (const tarBytes of raw) {
      const stored = await compress(tarBytes);
      layers.push({ mediaType: layerType, ...(await put(stored)), diffId: sha(tarBytes) });
    }
    const config = await put(
      Buffer.from(
        JSON.stringify({
          architecture,
          os,
          ...(variant ? { variant } : {}),
          config: { Cmd: ['/bin/true'] },
          rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
        }),
      ),
    );
    blobs.push(config, ...layers.map((l) => ({ digest: l.digest, size: l.size })));
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
        layers: layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
      }),
    );
    const m = await put(manifest);
    manifests[platform] = m.digest;
    descriptors.push({ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...m, platform: { os, architecture, ...(variant ? { variant } : {}) } });
    if (o.attestations) {
      const a = await attestationManifest(put, `${o.tag} ${platform}`, m.digest);
      blobs.push(...a.blobs);
      attestations[platform] = a.digest;
      attestationDescriptors.push({
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        digest: a.digest,
        size: a.size,
        annotations: { 'vnd.docker.reference.digest': m.digest, 'vnd.docker.reference.type': 'attestation-manifest' },
        platform: { architecture: 'unknown', os: 'unknown' },
      });
    }
  }
  descriptors.push(...attestationDescriptors);
  let top: { mediaType: string; digest: string; size: number };
  if (o.platforms.length === 1 && !o.attestations && !o.forceIndex) {
    const d = descriptors[0] as { digest: string; size: number };
    top = { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: d.digest, size: d.size };
  } else {
    // Pretty-printed on purpose: a client that re-serializes the index would change its digest.
    const index = Buffer.from(
      JSON.stringify(
        {
          schemaVersion: 2,
          mediaType: 'application/vnd.oci.image.index.v1+json',
          manifests: descriptors,
          ...(o.indexAnnotations ? { annotations: o.indexAnnotations } : {}),
        },
        null,
        3,
      ),
    );
    top = { mediaType: 'application/vnd.oci.image.index.v1+json', ...(await put(index)) };
  }
  const indexFile = path.join(o.layoutDir, 'index.json');
  const layout = JSON.parse(await readFile(indexFile, 'utf8').catch(() => '{"schemaVersion":2,"manifests":[]}')) as { manifests: unknown[] };
  layout.manifests.push({ ...top, annotations: { 'org.opencontainers.image.ref.name': o.tag } });
  await writeFile(indexFile, JSON.stringify(layout));
  return { digest: top.digest, mediaType: top.mediaType, manifests, attestations, blobs };
}

/** BuildKit's attestation manifest for one platform manifest: an SPDX SBOM as an in-toto statement. */
async function attestationManifest(put: (b: Buffer) => Promise<{ digest: string; size: number }>, subject: string, described: string) {
  const statement = Buffer.from(
    JSON.stringify({
      _type: 'https://in-toto.io/Statement/v0.1',
      predicateType: 'https://spdx.dev/Document',
      subject: [{ name: subject, digest: { sha256: described.slice(7) } }],
      predicate: { spdxVersion: 'SPDX-2.3', name: subject },
    }),
  );
  const layer = await put(statement);
  const config = await put(
    Buffer.from(JSON.stringify({ architecture: 'unknown', os: 'unknown', config: {}, rootfs: { type: 'layers', diff_ids: [layer.digest] } })),
  );
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
      layers: [{ mediaType: 'application/vnd.in-toto+json', ...layer, annotations: { 'in-toto.io/predicate-type': 'https://spdx.dev/Document' } }],
    }),
  );
  const m = await put(manifest);
  return { ...m, blobs: [config, layer] };
}
