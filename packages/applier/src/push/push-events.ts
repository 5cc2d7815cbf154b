/** What a push reports, in order; `--json` prints these one per line. */
export type PushEvent =
  | { type: 'image-start'; image: string; target: string; digest: string; blobs: number; bytes: number }
  | { type: 'blob'; image: string; digest: string; size: number; action: BlobAction; from?: string }
  | { type: 'manifest'; image: string; digest: string; reference: string; action: 'pushed' | 'present' }
  | { type: 'index-refused'; image: string; target: string; index: string; manifest: string; platform: string; absent: string[] }
  | { type: 'image-done'; image: string; target: string; digest: string }
  | { type: 'retry'; what: string; attempt: number; reason: string }
  | ({ type: 'done' } & PushSummary);

/** `uploaded`: sent; `mounted`: linked from another repository of the registry; `present`: already there. */
export type BlobAction = 'uploaded' | 'mounted' | 'present';

export interface PushSummary {
  registry: string;
  images: number;
  blobsUploaded: number;
  bytesUploaded: number;
  blobsMounted: number;
  blobsPresent: number;
  manifestsPushed: number;
  manifestsPresent: number;
  seconds: number;
}

export type PushListener = (event: PushEvent) => void;
