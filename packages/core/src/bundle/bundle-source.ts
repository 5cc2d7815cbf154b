/**
 * A digest a file must have besides its SHA-256, checked as the file is copied into the bundle:
 * the bundle is not finished (nor signed) otherwise. A snap's SHA3-384 from its snap-revision
 * assertion is one: checking it during the copy spares a second read of every snap.
 *
 * @example { algorithm: 'sha3-384', digest: 'q5Fz…', by: 'its snap-revision assertion', hint: 'download k8s again' }
 */
export interface ExpectedDigest {
  /** A node:crypto hash name. */
  algorithm: string;
  /** Unpadded base64url, as snap assertions write it. */
  digest: string;
  /** Who says so, for the error message. */
  by: string;
  hint: string;
  /**
   * Already verified for the file as it is now (the bundler's verified-digest cache): the copy does
   * not hash it again, and fails unless `unchanged()` still holds once the whole file has been read
   * (a file that changed meanwhile is not the one that was verified). The SHA-256 is computed anyway.
   */
  known?: { unchanged: () => Promise<boolean> };
  /** Called after a copy that hashed the file and found `digest` (the bundler then caches it). */
  onVerified?: () => Promise<void>;
}

/** A payload entry: a file on disk (streamed) or bytes made by the bundler. */
export type BundleSource =
  | {
      path: string;
      file: string;
      mode?: number;
      /** When known (an image blob named by its digest), checked as the file is copied. */
      sha256?: string;
      /** When known; else taken from the file. Either way the copy must have exactly this many bytes. */
      size?: number;
      expect?: ExpectedDigest;
    }
  | { path: string; data: Uint8Array; mode?: number };
