import { readFile } from 'node:fs/promises';
import path from 'node:path';
import {
  AirgapError,
  LOCK_VERSION,
  NODE_PLATFORMS,
  VERSION,
  lockPathFor,
  isAllPlatforms,
  lockProblems,
  readLock,
  specImageRefs,
  type BundleImage,
  type BundleManifest,
  type BundleSnap,
  type BundleSource,
  type LoadedSpec,
  type Lock,
  type LockedImage,
  type Spec,
} from '@airgap/core';
import { expiresAt, nextBundleSequence } from './bundle-sequence.ts';
import { defaultHostsDir } from './containerd/hosts-dir.ts';
import { renderHostsFiles } from './containerd/render-hosts.ts';
import { planK8s } from './k8s/plan-k8s.ts';
import { snapDigestExpectation } from './snaps/check-snap.ts';
import { resolveSnaps, type ResolvedSnap } from './snaps/resolve-snaps.ts';
import { readSnapImages } from './snaps/snap-meta.ts';
import { sbomSource } from './sbom/build-sbom.ts';
import { releaseOf } from './k8s/k8s-release.ts';
import { planWorkloads, type WorkloadsPlan } from './workloads/plan-workloads.ts';

/** What the images stage gives back (the OCI pull lives in ./oci). */
export interface ImagesResult {
  images: BundleImage[];
  lock: LockedImage[];
  sources: BundleSource[];
  hosts: string[];
}

export type PullImages = (refs: string[], o: { loaded: LoadedSpec; lock?: Lock; frozen: boolean; cacheDir: string }) => Promise<ImagesResult>;

export interface PlanBundleOptions {
  loaded: LoadedSpec;
  frozen: boolean;
  cacheDir: string;
  /** Seconds since the epoch recorded in the manifest (SOURCE_DATE_EPOCH). */
  createdAt: number;
  signer: string;
  pullImages: PullImages;
  /** Extra payload (the standalone applier executables). */
  extraSources?: BundleSource[];
  /**
   * Whether a bundle is written from this plan. Default true: each snap's SHA3-384 is left for
   * writeBundle to check as it copies the snap (one read of every snap per build), and the SBOM
   * entry is made. `bundler lock` and `bundler images` write no bundle and set false: the snaps are
   * checked now, and no SBOM is built only to be thrown away (the plan's sources then lack it).
   */
  writesBundle?: boolean;
  /** `--helm PATH`: the helm that renders workloads.charts (else PATH, else the k8s snap's bin/helm). */
  helm?: string;
}

/** Everything a bundle will hold, resolved: the serializable plan `bundler build` writes. */
export interface BundlePlan {
  manifest: Omit<BundleManifest, 'entries'>;
  sources: BundleSource[];
  lock: Lock;
  lockFile: string;
  previousLock?: Lock;
  /** The images the workloads use and where, what could not be carried, and which helm rendered the charts. */
  workloads: Pick<WorkloadsPlan, 'images' | 'warnings' | 'helm'>;
}

export async function planBundle(o: PlanBundleOptions): Promise<BundlePlan> {
  const { spec } = o.loaded;
  const writesBundle = o.writesBundle ?? true;
  const lockFile = lockPathFor(o.loaded.file);
  const previousLock = await readLock(lockFile);
  if (o.frozen) {
    if (!previousLock)
      throw new AirgapError('LOCK_STALE', `--frozen: ${lockFile} does not exist`, { hint: 'run `bundler lock airgap.yaml` and commit airgap.lock.yaml' });
    const problems = lockProblems(spec, previousLock);
    if (problems.length > 0)
      throw new AirgapError('LOCK_STALE', `--frozen: ${lockFile} does not match the spec:\n  ${problems.join('\n  ')}`, {
        hint: 'run `bundler lock airgap.yaml` and commit the result',
      });
  }

  const snaps = await resolveSnaps({
    spec,
    specDir: o.loaded.dir,
    lock: previousLock,
    frozen: o.frozen,
    cacheDir: o.cacheDir,
    deferDigestCheck: writesBundle,
  });
  const k8s = snaps.find((s) => s.role === 'k8s')!;
  // Before the image pulls: a bootstrap config the node would refuse fails the build at once.
  const k8sPlan = await planK8s({ spec, specDir: o.loaded.dir, snapVersion: k8s.meta.version });
  const featureImages = spec.images?.k8sFeatures ? await readSnapImages(k8s.snapPath) : [];
  const workloads = await planWorkloads({
    loaded: o.loaded,
    ...(previousLock ? { lock: previousLock } : {}),
    frozen: o.frozen,
    cacheDir: o.cacheDir,
    release: k8sPlan.k8s?.release ?? releaseOf({ ...(k8s.meta.version ? { version: k8s.meta.version } : {}), channel: spec.k8s.channel }) ?? '1.32',
    ...(o.helm ? { helm: o.helm } : {}),
    k8sSnap: k8s.snapPath,
  });
  const refs = [...new Set([...specImageRefs(spec), ...featureImages, ...workloads.images.map((i) => i.ref)])];
  const images: ImagesResult =
    refs.length > 0
      ? await o.pullImages(refs, { loaded: o.loaded, lock: previousLock, frozen: o.frozen, cacheDir: o.cacheDir })
      : { images: [], lock: [], sources: [], hosts: [] };

  const base = k8sPlan.k8s?.containerdBaseDir;
  const hostsDir = spec.containerd?.hostsDir ?? (base ? `${base}/etc/containerd/hosts.d` : defaultHostsDir(spec.k8s.channel));
  const caData = new Map<string, Buffer>();
  for (const m of spec.containerd?.mirrors ?? []) if (m.ca) caData.set(m.ca, await readFile(path.resolve(o.loaded.dir, m.ca)));
  const hostsFiles = renderHostsFiles({ mirrors: spec.containerd?.mirrors ?? [], hostsDir, caData }).map((f) => ({
    ...f,
    path: `containerd/hosts.d/${f.target}`,
  }));

  const sources: BundleSource[] = [
    ...snaps.flatMap((s) => snapSources(s)),
    ...images.sources,
    ...hostsFiles.map((f) => ({ path: f.path, data: f.data })),
    ...workloads.sources,
    ...(o.extraSources ?? []),
  ];
  let bootstrapConfig: string | undefined;
  if (k8sPlan.bootstrapConfig) {
    bootstrapConfig = 'config/bootstrap.yaml';
    sources.push({ path: bootstrapConfig, data: k8sPlan.bootstrapConfig });
  }

  const lock: Lock = {
    lockVersion: LOCK_VERSION,
    snaps: snaps.map((s) => ({
      name: s.name,
      ...(s.role === 'k8s' || s.role === 'extra' ? { channel: s.channel } : {}),
      revision: s.revision,
      'sha3-384': s.sha3_384,
      size: s.size,
    })),
    images: images.lock,
    ...(workloads.charts.length > 0 ? { charts: workloads.charts } : {}),
    ...lockedHosts(o.frozen, previousLock?.hosts, [...images.hosts, ...workloads.hosts]),
  };
  const generator = `airgap-bundler ${VERSION}`;
  const platforms = bundlePlatforms(spec);
  const containerd = { hostsDir, files: hostsFiles.map((f) => ({ path: f.path, target: f.target })) };
  const bundle = nextBundleSequence({
    manifest: { name: spec.metadata.name, generator, specText: o.loaded.text, spec, platforms, containerd, ...(k8sPlan.k8s ? { k8s: k8sPlan.k8s } : {}) },
    lock,
    data: [
      ...hostsFiles,
      ...workloadsContent(workloads),
      ...(k8sPlan.bootstrapConfig ? [{ path: 'config/bootstrap.yaml', data: k8sPlan.bootstrapConfig }] : []),
    ],
    previous: previousLock?.bundle,
    frozen: o.frozen,
  });
  if (bundle) lock.bundle = bundle;
  const expires = expiresAt(o.createdAt, spec.metadata.expires);
  const manifest: Omit<BundleManifest, 'entries'> = {
    formatVersion: 1,
    name: spec.metadata.name,
    createdAt: new Date(o.createdAt * 1000).toISOString(),
    ...(bundle?.name === spec.metadata.name ? { sequence: bundle.sequence } : {}),
    ...(expires ? { expiresAt: expires } : {}),
    generator,
    signer: o.signer,
    specText: o.loaded.text,
    spec,
    lock,
    platforms,
    snaps: snaps.map(bundleSnap),
    images: images.images,
    ...(images.sources.length > 0 ? { imageLayout: 'images' } : {}),
    containerd,
    ...(bootstrapConfig ? { bootstrapConfig } : {}),
    ...(k8sPlan.k8s ? { k8s: k8sPlan.k8s } : {}),
    ...(workloads.workloads ? { workloads: workloads.workloads } : {}),
  };
  const { images: workloadImages, warnings, helm } = workloads;
  // From the plan, before anything is written: the SBOM is an entry the manifest lists and signs.
  if (writesBundle) sources.push(await sbomSource({ manifest, sources }));
  return { manifest, sources, lock, lockFile, previousLock, workloads: { images: workloadImages, warnings, ...(helm ? { helm } : {}) } };
}

/** The platforms a bundle is for: `images.platforms`, or linux/amd64 when the spec has no `images`. */
export function bundlePlatforms(spec: Spec): string[] {
  const platforms = spec.images?.platforms ?? ['linux/amd64'];
  // `all` carries every image platform: the bundle is then for any node platform airgap knows.
  return isAllPlatforms(platforms) ? [...NODE_PLATFORMS] : platforms;
}

/**
 * Hosts seen in pulls accumulate: a warm-cache rebuild contacts no blob storage host, and must not
 * drop it from what `bundler allowlist` prints. A frozen build never changes the lock.
 */
function lockedHosts(frozen: boolean, previous: readonly string[] | undefined, seen: readonly string[]): { hosts?: string[] } {
  const hosts = frozen ? [...(previous ?? [])] : [...new Set([...(previous ?? []), ...seen])].sort();
  return hosts.length > 0 ? { hosts } : {};
}

function snapSources(s: ResolvedSnap): BundleSource[] {
  const b = bundleSnap(s);
  return [
    { path: b.snapPath, file: s.snapPath, size: s.size, expect: snapDigestExpectation(s) },
    { path: b.assertPath, file: s.assertPath },
  ];
}

function bundleSnap(s: ResolvedSnap): BundleSnap {
  return {
    name: s.name,
    role: s.role,
    revision: s.revision,
    ...(s.channel ? { channel: s.channel } : {}),
    classic: s.classic,
    sha3_384: s.sha3_384,
    size: s.size,
    snapPath: `snaps/${s.name}_${s.revision}.snap`,
    assertPath: `snaps/${s.name}_${s.revision}.assert`,
  };
}

/** What the workloads add to the bundle's content digest: the files made here, and the pinned charts (a .tgz is named by its digest). */
function workloadsContent(w: WorkloadsPlan): { path: string; data: Uint8Array }[] {
  if (!w.workloads) return [];
  const files = w.sources.flatMap((s) => ('data' in s ? [{ path: s.path, data: s.data }] : []));
  return [...files, { path: 'workloads/charts', data: Buffer.from(JSON.stringify([w.charts, w.workloads])) }];
}
