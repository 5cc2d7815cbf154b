import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { makeImage, tarLayer, type MadeImage } from '../support/oci-images.ts';

export interface HubImage extends MadeImage {
  /** platform manifest digest → its attestation manifest digest. */
  attestations: Record<string, string>;
}

const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/**
 * An image shaped like a Docker Hub official image built by BuildKit: an OCI index over gzip
 * platform manifests (sharing a base layer), each followed by its attestation manifest (platform
 * unknown/unknown, annotations vnd.docker.reference.type=attestation-manifest and
 * vnd.docker.reference.digest=<the manifest it describes>, one in-toto JSON layer). Written
 * into `layoutDir` under `tag`, for `skopeo copy --all oci:DIR:TAG`.
 */
export async function makeHubImage(o: { layoutDir: string; tag: string; platforms: string[] }): Promise<HubImage> {
  const base = await tarLayer({ 'etc/os-release': `ID=hub-${o.tag}\n`, 'bin/sh': 'base' });
  const made = await makeImage({ layoutDir: o.layoutDir, tag: o.tag, platforms: o.platforms, sharedLayers: [base], layerSizes: [40_000], gzip: true });
  const blobs = path.join(o.layoutDir, 'blobs', 'sha256');
  const put = async (b: Buffer) => {
    const digest = sha(b);
    await writeFile(path.join(blobs, digest.slice(7)), b);
    return { digest, size: b.length };
  };
  const index = JSON.parse(await readFile(path.join(blobs, made.digest.slice(7)), 'utf8')) as { manifests: { digest: string }[] };
  const attestations: Record<string, string> = {};
  const manifests: unknown[] = [];
  for (const child of index.manifests) {
    manifests.push(child);
    const statement = Buffer.from(
      JSON.stringify({
        _type: 'https://in-toto.io/Statement/v0.1',
        predicateType: 'https://spdx.dev/Document',
        subject: [{ name: `pkg:docker/${o.tag}`, digest: { sha256: child.digest.slice(7) } }],
        predicate: { spdxVersion: 'SPDX-2.3' },
      }),
    );
    const layer = await put(statement);
    const config = await put(
      Buffer.from(JSON.stringify({ architecture: 'unknown', os: 'unknown', config: {}, rootfs: { type: 'layers', diff_ids: [layer.digest] } })),
    );
    const manifest = await put(
      Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
          layers: [{ mediaType: 'application/vnd.in-toto+json', ...layer, annotations: { 'in-toto.io/predicate-type': 'https://spdx.dev/Document' } }],
        }),
      ),
    );
    attestations[child.digest] = manifest.digest;
    manifests.push({
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      ...manifest,
      annotations: { 'vnd.docker.reference.digest': child.digest, 'vnd.docker.reference.type': 'attestation-manifest' },
      platform: { architecture: 'unknown', os: 'unknown' },
    });
  }
  const top = await put(Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests }, null, 3)));
  const layoutIndex = path.join(o.layoutDir, 'index.json');
  const layout = JSON.parse(await readFile(layoutIndex, 'utf8')) as { manifests: { digest: string; size: number; annotations?: Record<string, string> }[] };
  for (const d of layout.manifests) if (d.digest === made.digest) Object.assign(d, top);
  await writeFile(layoutIndex, JSON.stringify(layout));
  return { ...made, digest: top.digest, attestations };
}
