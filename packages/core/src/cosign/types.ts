import type { KeyObject, X509Certificate } from 'node:crypto';

/** `enforce` (default): a rule that fails stops the build. `warn`: it is printed and the build goes on. */
export type VerifyMode = 'enforce' | 'warn';

/** A cosign public key: ECDSA P-256 SPKI PEM, as `cosign generate-key-pair` writes `cosign.pub`. */
export interface CosignPublicKey {
  key: KeyObject;
  /** `sha256:<hex of the SPKI DER>`: what the manifest and inspect show. */
  fingerprint: string;
  /** The file it was read from. */
  source: string;
}

/** One `images.verify` rule with its files read: by a key, or by a Sigstore identity (keyless). */
export type VerifyRule = KeyVerifyRule | IdentityVerifyRule;

interface RuleBase {
  /**
   * Glob on the image reference: `*` is any run of characters but `/`, `**` any run at all. A
   * pattern without a tag or digest also matches the name with any tag or digest.
   * @example 'ghcr.io/canonical/*'
   */
  match: string;
  mode: VerifyMode;
}

export interface KeyVerifyRule extends RuleBase {
  key: CosignPublicKey;
  identity?: undefined;
}

/** Keyless: the signature's Fulcio certificate must chain to `trustedRoot` and name this issuer and subject. */
export interface IdentityVerifyRule extends RuleBase {
  key?: undefined;
  identity: SigstoreIdentity;
  trustedRoot: TrustedRoot;
  /** Accept a signature without a verified transparency log entry (cosign's `--insecure-ignore-tlog`); one that is there is still checked. */
  insecureIgnoreTlog?: boolean;
  /** Accept a certificate without SCTs (cosign's `--insecure-ignore-sct`); SCTs that are there are still checked. */
  insecureIgnoreSct?: boolean;
}

export interface SigstoreIdentity {
  /** The OIDC issuer in the certificate's Fulcio extension. @example 'https://token.actions.githubusercontent.com' */
  issuer: string;
  /** The SAN (email or URI), exactly. */
  subject?: string;
  /** Or a regular expression the SAN must match as a whole. */
  subjectRegExp?: string;
}

/** Sigstore's trusted_root.json (protobuf-specs TrustedRoot): the Fulcio part read, and the whole document for @sigstore/verify. */
export interface TrustedRoot {
  source: string;
  authorities: { uri: string; certificates: X509Certificate[]; start?: Date; end?: Date }[];
  /** The parsed JSON (tlogs, ctlogs and timestamp authorities too). */
  document: unknown;
}

export interface VerifyInput {
  /** What the reference resolved to (the index or manifest digest the tag points at): `sha256:<hex>`. */
  imageDigest: string;
  /** The reference as the spec names it; the payload's docker-reference must name the same repository. */
  imageRef: string;
  /** The parsed manifest under `sha256-<hex>.sig`; undefined when the repository has no such tag. */
  signatureManifest: unknown;
  /** One blob of the same repository by digest (the payload layers; checked against the digest here). */
  readBlob: (digest: string) => Promise<Buffer>;
  /** Sigstore bundles found as referrers of the image (cosign v3), each read on demand. */
  sigstoreBundles?: { digest: string; read: () => Promise<Buffer> }[];
  rule: VerifyRule;
}

export interface VerifyResult {
  verified: boolean;
  /** `key sha256:<hex>` or `identity <issuer> <subject>` when verified. */
  by?: string;
  /** Why not, naming what was found. */
  reason?: string;
  /** Signature layers in the `.sig` manifest. */
  signatures: number;
}
