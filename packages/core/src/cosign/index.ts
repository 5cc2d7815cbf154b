export type { CosignPublicKey, VerifyInput, VerifyMode, VerifyResult, VerifyRule } from './types.ts';
export { cosignFingerprint, cosignPublicKeyFrom, loadCosignPublicKey } from './public-key.ts';
export { matchVerifyRule } from './match-rule.ts';
export { canonicalRepository, readPayloadClaims, SIGNATURE_ANNOTATION, SIMPLE_SIGNING_TYPE } from './simple-signing.ts';
export { cosignSignatureTag, verifyCosignSignatures } from './verify-signatures.ts';
export { resolveVerifyRules } from './resolve-rules.ts';
