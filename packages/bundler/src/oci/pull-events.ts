/** What a pull reports, in order; `--json` prints these one per line. */
export type PullEvent =
  | { type: 'image-resolved'; image: string; digest: string; blobs: number; bytes: number }
  | { type: 'blob-done'; image: string; digest: string; size: number; cached: boolean }
  | { type: 'image-done'; image: string; digest: string }
  | { type: 'bytes'; image: string; n: number }
  | { type: 'retry'; what: string; attempt: number; reason: string };

export type PullListener = (event: PullEvent) => void;
