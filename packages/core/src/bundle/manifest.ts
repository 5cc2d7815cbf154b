import type { Lock } from '../lock/types.ts';
import type { Spec } from '../spec/types.ts';

export const FORMAT_VERSION = 1;
export const MANIFEST_PATH = 'airgap/manifest.json';
export const SIGNATURE_PATH = 'airgap/manifest.sig';
/** `sha256sum -c` input for every payload entry, so a bundle can be checked with coreutils alone. */
export const SUMS_PATH = 'airgap/SHA256SUMS';
/** ustar's name field; longer names would need pax headers, which the format does not allow. */
export const MAX_ENTRY_PATH = 100;

/** One payload entry of the tar, in the order it appears. */
export interface ManifestEntry {
  path: string;
  size: number;
  sha256: string;
  mode: number;
}

export type SnapRole = 'snapd' | 'base' | 'k8s' | 'extra';

export interface BundleSnap {
  name: string;
  role: SnapRole;
  revision: number;
  channel?: string;
  classic: boolean;
  /** Unpadded base64url SHA3-384, as in the snap-revision assertion. */
  sha3_384: string;
  size: number;
  snapPath: string;
  assertPath: string;
}

/**
 * One image name of the bundle. `digest` is what upstream had under the name: `ctr images import`
 * and `applier serve` answer every name with it, and `applier push` puts it first.
 */
export interface BundleImage {
  ref: string;
  digest: string;
  mediaType: string;
  /**
   * Only on a tagged name whose upstream index lists children the bundle does not carry (other
   * platforms, dropped attestations): the bundler's index of the carried children alone, in
   * upstream order, all else as upstream had it. `applier push` sets the tag to it where the
   * registry refuses `digest` for its missing children. A `repo@sha256:` name has no subset: it
   * (without a tag) can only ever be `digest`.
   */
  subset?: BundleImageSubset;
  /** The `images.verify` rule the image matched at build and what it found (absent: no rule matched). */
  verified?: BundleImageVerified;
  /**
   * Signatures, attestations and SBOMs published beside the image upstream, carried in the image
   * layout (manifests and blobs by digest). Absent: none found, or `images.evidence: false`.
   */
  evidence?: BundleEvidence[];
}

/**
 * How upstream published a piece of evidence, so `applier push` and `serve` can publish it the
 * same way: cosign's tag scheme (`sha256-<hex>.sig|.att|.sbom`, sigstore/cosign
 * pkg/oci/remote/remote.go), an OCI 1.1 referrer (a manifest whose `subject` is the image), or the
 * referrers tag schema's fallback index (`sha256-<hex>`, distribution-spec 1.1 spec.md
 * "Referrers Tag Schema") that lists the referrers on a registry without the referrers API.
 */
export type EvidenceKind = 'cosign-sig' | 'cosign-att' | 'cosign-sbom' | 'referrer' | 'referrers-tag';

export interface BundleEvidence {
  kind: EvidenceKind;
  /** The manifest digest (of this image's graph) the evidence is about. */
  subject: string;
  /** The tag upstream had it under: cosign tags and the fallback tag; a referrer has none. */
  tag?: string;
  digest: string;
  size: number;
  mediaType: string;
  /** A referrer's artifactType (its own, else its config's media type), as the referrers API lists it. */
  artifactType?: string;
}

export interface BundleImageVerified {
  /** The rule's `match` glob. */
  rule: string;
  mode: 'enforce' | 'warn';
  /** A signature verified; false only under mode warn (enforce fails the build instead). */
  ok: boolean;
  /** `key sha256:<hex of the SPKI DER>`: the key whose signature verified; or `identity <issuer> <subject>` (keyless rule). */
  by?: string;
  /** Why nothing verified (ok false). */
  reason?: string;
}

export interface BundleImageSubset {
  digest: string;
  size: number;
  /** The platforms it lists (`os/arch[/variant]`), without attestation manifests. */
  platforms: string[];
}

export interface HostsFile {
  /** Entry path in the bundle. */
  path: string;
  /** Path relative to the node's containerd hosts dir, e.g. `docker.io/hosts.toml`. */
  target: string;
}

/** The k8s releases whose bootstrap config and node behaviour this format knows. */
export const K8S_RELEASES = ['1.32', '1.33', '1.34', '1.35', '1.36'] as const;
export type K8sRelease = (typeof K8S_RELEASES)[number];

export const K8S_DATASTORES = ['etcd', 'k8s-dqlite', 'external'] as const;
export type K8sDatastore = (typeof K8S_DATASTORES)[number];

/** What the node's k8s will be, read at build time from the snap and the bootstrap config. */
export interface BundleK8s {
  /** The minor release of the k8s snap, e.g. `1.32` (from its version, else its channel). */
  release: K8sRelease;
  /** The bootstrap config's `datastore-type`; `etcd` when it does not set one. */
  datastore: K8sDatastore;
  /**
   * containerd's base dir when the bootstrap config sets `containerd-base-dir`: the socket is
   * `<base>/run/containerd/containerd.sock`, the config `<base>/etc/containerd`. Absent: the
   * snap's default (`/` for the classic snap).
   */
  containerdBaseDir?: string;
}

/** An entry a delta bundle leaves out: its base carries these bytes at this path (docs/bundle-format.md, "Delta bundles"). */
export interface OmittedEntry {
  path: string;
  sha256: string;
  size: number;
}

/**
 * The bundle a delta is built against. Only image config and layer blobs and snap files whose
 * path and sha256 match an entry carried in the base are left out; everything else is in the tar.
 */
export interface BundleBase {
  name: string;
  /** `sha256:` and the base manifest's sha256: the digest `bundler verify` prints for the base (or its head). */
  digest: string;
  sequence?: number;
  /** Sorted by path; listed in no `entries` and not in SHA256SUMS. */
  omitted: OmittedEntry[];
}

/** A chart the bundle carries, installed by the applier's workloads step with `k8s helm upgrade --install`. */
export interface BundleChart {
  /** The release name. */
  name: string;
  version: string;
  /** sha256 of the chart's .tgz, as pinned in the lock. */
  digest: string;
  /** Entry path of the .tgz, e.g. `workloads/charts/web-1.2.3.tgz`. */
  path: string;
  /** Entry paths of the values files, passed as `-f` in this order. */
  values: string[];
  /** sha256 over the values files in order: the applier re-installs when it changes. */
  valuesDigest: string;
  namespace: string;
  createNamespace: boolean;
}

export interface BundleWorkloads {
  charts: BundleChart[];
  /** Entry paths of the Kubernetes YAML files, applied in this order after the charts. */
  manifests: string[];
}

export interface BundleManifest {
  formatVersion: typeof FORMAT_VERSION;
  name: string;
  createdAt: string;
  /**
   * Monotonic per bundle name (the lock's `bundle.sequence`): bumped by each build whose content
   * changed. The applier refuses a lower one than it last applied. Absent in older bundles.
   */
  sequence?: number;
  /** createdAt plus the spec's `metadata.expires`; the applier refuses the bundle after it. */
  expiresAt?: string;
  generator: string;
  /** Fingerprint of the signing key, so `inspect` can name the signer without a key at hand. */
  signer: string;
  /** The exact airgap.yaml text, for audit. */
  specText: string;
  /** The validated spec with defaults applied; paths in it refer to the online machine. */
  spec: Spec;
  lock: Lock;
  platforms: string[];
  snaps: BundleSnap[];
  images: BundleImage[];
  /** Entry path of the OCI image layout root, when the bundle carries images. */
  imageLayout?: string;
  containerd: { hostsDir: string; files: HostsFile[] };
  bootstrapConfig?: string;
  /** Absent in bundles built before it was recorded, and for releases outside K8S_RELEASES. */
  k8s?: BundleK8s;
  /** Only on a delta bundle (`bundler build --base`): the base and what this bundle leaves out of it. */
  base?: BundleBase;
  /** Charts and manifests to deploy; absent when the spec has no workloads. */
  workloads?: BundleWorkloads;
  entries: ManifestEntry[];
}
