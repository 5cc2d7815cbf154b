export const LOCK_VERSION = 1;

export interface LockedSnap {
  name: string;
  /** Channel it was resolved from; absent for the base, which follows the k8s snap. */
  channel?: string;
  revision: number;
  'sha3-384': string;
  size: number;
}

export interface LockedImage {
  ref: string;
  digest: string;
  /** The signatures, attestations and SBOMs carried beside it; `--frozen` carries exactly these, by digest. Absent when none. */
  evidence?: LockedEvidence[];
}

/** One piece of evidence as the lock pins it; the rest (media type, size, blobs) is read from its manifest. */
export interface LockedEvidence {
  kind: 'cosign-sig' | 'cosign-att' | 'cosign-sbom' | 'referrer' | 'referrers-tag';
  subject: string;
  tag?: string;
  digest: string;
}

export interface Lock {
  lockVersion: typeof LOCK_VERSION;
  snaps: LockedSnap[];
  images: LockedImage[];
  /** The charts of workloads.charts, pinned: version and the sha256 of the .tgz. */
  charts?: LockedChart[];
  /** Every host the last pull contacted (registries, token realms, blob redirects), for `bundler allowlist`. */
  hosts?: string[];
  /** The bundle's sequence: bumped when a build's content differs from `content` (see plan-bundle). */
  bundle?: LockedBundle;
}

export interface LockedBundle {
  /** The spec's metadata.name the sequence counts for; another name starts again at 1. */
  name: string;
  sequence: number;
  /** sha256 of what the bundle carries apart from its time and signer. */
  content: string;
}

export interface LockedChart {
  /** The release name in workloads.charts. */
  name: string;
  /** Where it was pulled from: `oci://REG/REPO/CHART`, or the repository URL and `#CHART`. */
  source: string;
  version: string;
  /** `sha256:` of the chart's .tgz. */
  digest: string;
}
