import { createHash, createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { access, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { tarLayer } from './oci-images.ts';
import {
  fingerprintOf,
  generateSigningKeyPair,
  planDelta,
  writeBundle,
  type DeltaBase,
  type BundleImage,
  type BundleManifest,
  type BundleSnap,
  type BundleWorkloads,
  type BundleSource,
  type ClusterAddress,
  type K8sDatastore,
  type K8sRelease,
  type SnapRole,
  type Spec,
} from '@airgap/core';
import { makeSnap } from './snap-fixture.ts';

export interface FixtureKeys {
  privateKey: KeyObject;
  publicPem: string;
  fingerprint: string;
}

export function makeKeys(): FixtureKeys {
  const pair = generateSigningKeyPair();
  return { privateKey: createPrivateKey(pair.privatePem), publicPem: pair.publicPem, fingerprint: fingerprintOf(createPublicKey(pair.publicPem)) };
}

export interface FixtureSnap {
  name: string;
  revision: number;
  role: SnapRole;
  type?: 'app' | 'base' | 'snapd';
  base?: string;
  classic?: boolean;
}

/** snapd, core22 and a classic k8s on core22: what a 1.34 bundle carries (its version follows `release`). */
export const STANDARD_SNAPS: FixtureSnap[] = [
  { name: 'snapd', revision: 21759, role: 'snapd', type: 'snapd' },
  { name: 'core22', revision: 1722, role: 'base', type: 'base' },
  { name: 'k8s', revision: 3001, role: 'k8s', base: 'core22', classic: true },
];

export interface FixtureImage {
  ref: string;
  /** Files of the image's single layer. */
  files: Record<string, string>;
  /**
   * Wrap the linux/amd64 manifest in an OCI index that also lists these platforms, whose
   * manifests are not carried: a partial index, as the bundler keeps for multi-platform images.
   */
  absentPlatforms?: string[];
  /**
   * More carried platforms (e.g. `linux/arm64`) → the files of that platform's single layer: the
   * image is an OCI index over the linux/amd64 manifest and one manifest each of these.
   */
  morePlatforms?: Record<string, Record<string, string>>;
}

export interface BundleFixtureOptions {
  /** Working folder: the bundle, its .pub and cached snaps go here. */
  dir: string;
  /** Output file name inside dir. */
  out?: string;
  keys?: FixtureKeys;
  name?: string;
  snaps?: FixtureSnap[];
  /** hosts dir target (e.g. `docker.io/hosts.toml`) → content. */
  hosts?: Record<string, string>;
  hostsDir?: string;
  images?: FixtureImage[];
  proxy?: Spec['proxy'];
  defaultRouteInterface?: string;
  /** Bootstrap config text, or true to bootstrap without a config file. */
  bootstrap?: string | true;
  /**
   * The bundle's k8s release (default 1.34): the spec's channel is `<release>-classic/stable`, the
   * k8s snap's version `v<release>.0`, and manifest.k8s.release says it. A string outside
   * 1.32–1.36 still goes into the manifest as given (for tests of refusal).
   */
  release?: K8sRelease | (string & {});
  /** manifest.k8s.datastore (default etcd), as the bundler reads it from the bootstrap config. */
  datastore?: K8sDatastore;
  /** manifest.k8s.containerdBaseDir; the default hosts dir follows it, as the bundler does. */
  containerdBaseDir?: string;
  /** A manifest from before manifest.k8s existed (older bundlers): no `k8s` field. */
  omitK8s?: boolean;
  /** spec.cluster.address. */
  clusterAddress?: ClusterAddress;
  platforms?: string[];
  createdAt?: string;
  /** manifest.sequence and manifest.expiresAt, as the bundler writes them from the lock and metadata.expires. */
  sequence?: number;
  expiresAt?: string;
  /** Build a delta against this base (its verified manifest and digest), as `bundler build --base` does. */
  base?: DeltaBase;
  /** manifest.workloads and the entries it names (entry path → content), as the bundler writes them. */
  workloads?: { manifest: BundleWorkloads; files: Record<string, string | Uint8Array> };
}

export interface BundleFixture {
  file: string;
  pubFile: string;
  keys: FixtureKeys;
  manifest: BundleManifest;
}

/** A signed bundle made with core's writeBundle from a small description (no bundler CLI). */
export async function makeBundle(o: BundleFixtureOptions): Promise<BundleFixture> {
  const keys = o.keys ?? makeKeys();
  const sources: BundleSource[] = [];
  const snaps: BundleSnap[] = [];
  const snapDir = path.join(o.dir, 'snap-cache');
  const release = o.release ?? '1.34';
  for (const s of o.snaps ?? STANDARD_SNAPS) {
    const made = await cachedSnap(snapDir, s, s.role === 'k8s' ? `v${release}.0` : undefined);
    const snapPath = `snaps/${s.name}_${s.revision}.snap`;
    const assertPath = `snaps/${s.name}_${s.revision}.assert`;
    sources.push({ path: snapPath, file: made.snapPath }, { path: assertPath, file: made.assertPath });
    snaps.push({
      name: s.name,
      role: s.role,
      revision: s.revision,
      classic: s.classic ?? false,
      sha3_384: made.sha3_384,
      size: made.size,
      snapPath,
      assertPath,
    });
  }
  const hostsFiles = Object.entries(o.hosts ?? {}).map(([target, content]) => ({ path: `containerd/hosts.d/${target}`, target, content }));
  for (const h of hostsFiles) sources.push({ path: h.path, data: Buffer.from(h.content) });
  const images: BundleImage[] = [];
  if (o.images?.length) {
    const layout = await ociLayout(o.images);
    images.push(...layout.images);
    sources.push(...layout.sources);
  }
  for (const [p, data] of Object.entries(o.workloads?.files ?? {})) sources.push({ path: p, data: Buffer.from(data) });
  let bootstrapConfig: string | undefined;
  if (typeof o.bootstrap === 'string') {
    bootstrapConfig = 'config/bootstrap.yaml';
    sources.push({ path: bootstrapConfig, data: Buffer.from(o.bootstrap) });
  }
  const spec: Spec = {
    apiVersion: 'airgap/v1alpha1',
    kind: 'Bundle',
    metadata: { name: o.name ?? 'fixture' },
    k8s: { channel: `${release}-classic/stable`, snapd: true },
    ...(o.proxy ? { proxy: o.proxy } : {}),
    ...(o.defaultRouteInterface ? { network: { defaultRoute: { interface: o.defaultRouteInterface } } } : {}),
    ...(o.bootstrap || o.clusterAddress
      ? {
          cluster: {
            ...(o.bootstrap ? { bootstrap: typeof o.bootstrap === 'string' ? { config: 'bootstrap.yaml' } : {} } : {}),
            ...(o.clusterAddress ? { address: o.clusterAddress } : {}),
          },
        }
      : {}),
  };
  const hostsDir = o.hostsDir ?? (o.containerdBaseDir ? `${o.containerdBaseDir}/etc/containerd/hosts.d` : '/etc/containerd/hosts.d');
  const manifest: Omit<BundleManifest, 'entries'> = {
    formatVersion: 1,
    name: o.name ?? 'fixture',
    createdAt: o.createdAt ?? '2025-01-01T00:00:00.000Z',
    ...(o.sequence !== undefined ? { sequence: o.sequence } : {}),
    ...(o.expiresAt !== undefined ? { expiresAt: o.expiresAt } : {}),
    generator: 'test bundle-fixture',
    signer: keys.fingerprint,
    specText: '',
    spec,
    lock: { lockVersion: 1, snaps: [], images: images.map((i) => ({ ref: i.ref, digest: i.digest })) },
    platforms: o.platforms ?? ['linux/amd64'],
    snaps,
    images,
    ...(images.length ? { imageLayout: 'images' } : {}),
    containerd: { hostsDir, files: hostsFiles.map((h) => ({ path: h.path, target: h.target })) },
    ...(bootstrapConfig ? { bootstrapConfig } : {}),
    ...(o.workloads ? { workloads: o.workloads.manifest } : {}),
    ...(o.omitK8s
      ? {}
      : {
          k8s: { release: release as K8sRelease, datastore: o.datastore ?? 'etcd', ...(o.containerdBaseDir ? { containerdBaseDir: o.containerdBaseDir } : {}) },
        }),
  };
  await mkdir(o.dir, { recursive: true });
  const file = path.join(o.dir, o.out ?? 'bundle.tar');
  const payload = o.base ? planDelta({ manifest, sources, base: o.base }) : { manifest, sources };
  const written = await writeBundle({ out: file, manifest: payload.manifest, sources: payload.sources, key: keys.privateKey });
  const pubFile = path.join(o.dir, 'fixture.pub');
  await writeFile(pubFile, keys.publicPem);
  return { file, pubFile, keys, manifest: written.manifest };
}

async function cachedSnap(dir: string, s: FixtureSnap, version: string | undefined) {
  const snapPath = path.join(dir, `${s.name}_${s.revision}.snap`);
  const made = await makeSnap({
    dir,
    name: s.name,
    revision: s.revision,
    type: s.type ?? 'app',
    base: s.base,
    confinement: s.classic ? 'classic' : 'strict',
    version,
  });
  return { ...made, snapPath };
}

const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');

/** Single-platform OCI images made by hand: one uncompressed layer, a config, a manifest each. */
export async function ociLayout(images: readonly FixtureImage[]): Promise<{ images: BundleImage[]; sources: BundleSource[]; blobs: Map<string, Buffer> }> {
  const blobs = new Map<string, Buffer>();
  const put = (data: Buffer) => {
    const hex = sha256(data);
    blobs.set(hex, data);
    return { digest: `sha256:${hex}`, size: data.length };
  };
  const out: BundleImage[] = [];
  const descriptors: unknown[] = [];
  const mediaType = 'application/vnd.oci.image.manifest.v1+json';
  const platformManifest = async (files: Record<string, string>, os: string, architecture: string) => {
    const layer = put(await tarLayer(files));
    const config = put(Buffer.from(JSON.stringify({ architecture, os, config: { Cmd: ['/bin/true'] }, rootfs: { type: 'layers', diff_ids: [layer.digest] } })));
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType,
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
        layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', ...layer }],
      }),
    );
    return put(manifest);
  };
  for (const image of images) {
    const manifest = await platformManifest(image.files, 'linux', 'amd64');
    const platform = { architecture: 'amd64', os: 'linux' };
    const more = [];
    for (const [p, files] of Object.entries(image.morePlatforms ?? {})) {
      const [os, architecture] = p.split('/') as [string, string];
      more.push({ mediaType, ...(await platformManifest(files, os, architecture)), platform: { architecture, os } });
    }
    if (image.absentPlatforms?.length || more.length) {
      const absent = (image.absentPlatforms ?? []).map((p) => {
        const [os, architecture] = p.split('/');
        return { mediaType, digest: `sha256:${sha256(Buffer.from(`absent ${image.ref} ${p}`))}`, size: 1000, platform: { architecture, os } };
      });
      const indexType = 'application/vnd.oci.image.index.v1+json';
      const index = put(
        Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: indexType, manifests: [{ mediaType, ...manifest, platform }, ...more, ...absent] }, null, 2)),
      );
      out.push({ ref: image.ref, digest: index.digest, mediaType: indexType });
      descriptors.push({ mediaType: indexType, ...index, annotations: { 'io.containerd.image.name': image.ref } });
      continue;
    }
    out.push({ ref: image.ref, digest: manifest.digest, mediaType });
    descriptors.push({ mediaType, ...manifest, platform, annotations: { 'io.containerd.image.name': image.ref } });
  }
  const sources: BundleSource[] = [
    { path: 'images/oci-layout', data: Buffer.from(JSON.stringify({ imageLayoutVersion: '1.0.0' })) },
    { path: 'images/index.json', data: Buffer.from(JSON.stringify({ schemaVersion: 2, manifests: descriptors })) },
    ...[...blobs].map(([hex, data]) => ({ path: `images/blobs/sha256/${hex}`, data })),
  ];
  return { images: out, sources, blobs };
}

export async function exists(p: string): Promise<boolean> {
  return access(p).then(
    () => true,
    () => false,
  );
}
