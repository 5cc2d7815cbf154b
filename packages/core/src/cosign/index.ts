export type {
  CosignPublicKey,
  IdentityVerifyRule,
  KeyVerifyRule,
  SigstoreIdentity,
  TrustedRoot,
  VerifyInput,
  VerifyMode,
  VerifyResult,
  VerifyRule,
} from './types.ts';
export { cosignFingerprint, cosignPublicKeyFrom, loadCosignPublicKey } from './public-key.ts';
export { matchVerifyRule } from './match-rule.ts';
export { canonicalRepository, readPayloadClaims, SIGNATURE_ANNOTATION, SIMPLE_SIGNING_TYPE } from './simple-signing.ts';
export { COSIGN_SIG_ARTIFACT, cosignSignatureTag, describeRule, verifyCosignSignatures } from './verify-signatures.ts';
export { BUNDLE_ANNOTATION, CERTIFICATE_ANNOTATION, CHAIN_ANNOTATION, checkKeylessCertificate, fulcioIssuer, loadTrustedRoot } from './keyless.ts';
export { resolveVerifyRules } from './resolve-rules.ts';
export {
  certificateSctProblem,
  IN_TOTO_PAYLOAD_TYPE,
  legacyLayerBundle,
  SIGSTORE_BUNDLE_V03,
  verifyImageBundle,
  verifySigstoreBundle,
  type BundleOutcome,
} from './sigstore-bundle.ts';
