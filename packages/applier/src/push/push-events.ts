import type { EvidenceSummary } from './push-evidence.ts';

/** What a push reports, in order; `--json` prints these one per line (`bytes` only folded into the summary). */
export type PushEvent =
  | { type: 'image-start'; image: string; target: string; digest: string; blobs: number; bytes: number }
  | { type: 'bytes'; image: string; n: number }
  | { type: 'blob'; image: string; digest: string; size: number; action: BlobAction; from?: string }
  | { type: 'manifest'; image: string; digest: string; reference: string; action: 'pushed' | 'present' }
  | { type: 'index-refused'; image: string; target: string; index: string; subset: string; platforms: string[]; absent: string[] }
  | ({ type: 'digest-unheld' } & UnheldDigest)
  | { type: 'image-failed'; image: string; target: string; code: string; message: string; hint?: string }
  | { type: 'image-done'; image: string; target: string; digest: string }
  | { type: 'retry'; what: string; attempt: number; reason: string }
  | ({ type: 'done' } & PushSummary);

/** `uploaded`: sent; `mounted`: linked from another repository of the registry; `present`: already there. */
export type BlobAction = 'uploaded' | 'mounted' | 'present';

/**
 * A `repo@sha256:<upstream index>` name the registry cannot hold: it refuses an index whose
 * children (other platforms, attestations) the bundle does not carry.
 */
export interface UnheldDigest {
  image: string;
  target: string;
  digest: string;
  absent: string[];
  /** Who is affected and what to do, in words. */
  hint: string;
}

export interface PushSummary {
  registry: string;
  images: number;
  blobsUploaded: number;
  bytesUploaded: number;
  blobsMounted: number;
  blobsPresent: number;
  /** Bytes of blobs not sent: already in the registry, or mounted from another repository there. */
  bytesSkipped: number;
  manifestsPushed: number;
  manifestsPresent: number;
  /** Tags that hold the bundle's subset index because the registry refused the upstream one. */
  subsets: { image: string; index: string; subset: string }[];
  unheld: UnheldDigest[];
  /** Images the registry refused; the others were pushed. */
  failed: { image: string; code: string; message: string }[];
  /** Signatures, attestations and SBOMs pushed beside the images (push-evidence.ts); absent when the bundle carries none. */
  evidence?: EvidenceSummary;
  seconds: number;
}

export type PushListener = (event: PushEvent) => void;
