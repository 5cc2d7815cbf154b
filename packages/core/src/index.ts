export * from './errors.ts';
export * from './spec/types.ts';
export { validateSpecText, type SpecValidation } from './spec/validate-spec.ts';
export { loadSpec, formatIssues, MAX_SPEC_BYTES } from './spec/load-spec.ts';
export { ALL_PLATFORMS, NODE_PLATFORMS, imageRefName, isAllPlatforms, specImageRefs } from './spec/image-refs.ts';
export * from './lock/types.ts';
export * from './bundle/manifest.ts';
export * from './bundle/keys.ts';
export * from './bundle/entry-path.ts';
export * from './bundle/tar-layout.ts';
export { validateManifest } from './bundle/validate-manifest.ts';
export { writeBundle, type BundleSource, type ExpectedDigest, type WriteBundleOptions, type WrittenBundle } from './bundle/write-bundle.ts';
export {
  verifyBundle,
  openEntry,
  readEntry,
  readBundleRange,
  verifyingStream,
  readManifestUnverified,
  type VerifiedBundle,
  type VerifyOptions,
} from './bundle/read-bundle.ts';
export { bundleFiles, partPath, MAX_PARTS, type BundleFiles, type BundlePart } from './bundle/bundle-parts.ts';
export { isHeadFile, verifyHead, writeHead, type VerifiedHead, type WrittenHead } from './bundle/bundle-head.ts';
export { loadTrustedKeys, TRUSTED_KEYS_DIR } from './bundle/trusted-keys.ts';
export { planDelta, entrySizes, omittedBytes, type DeltaBase, type PlannedDelta } from './bundle/delta.ts';
export { openBaseBundle, withBase, omittedFromNode } from './bundle/delta-source.ts';
export { verifyCommand, describeVerified, type VerifyCommandOptions } from './commands/verify-command.ts';
export { runMain } from './cli/run-main.ts';
export { createProgram, runProgram, synopsis, Command, Option, type ProgramOptions } from './cli/program.ts';
export { runTool, ToolError, type RunToolOptions, type ToolResult } from './util/run-tool.ts';
export { writeFileAtomic, tempPathFor } from './util/atomic-write.ts';
export { canonicalJson } from './util/canonical-json.ts';
export { hashFile } from './util/hash-file.ts';
export { VERSION, COMMIT } from './version.ts';
export { LOCK_FILE_NAME, lockPathFor, readLock, renderLock, writeLock, lockProblems, chartSource } from './lock/lock-file.ts';
export { validateLockText, type LockValidation } from './lock/validate-lock.ts';
export { encodeHeader } from './bundle/tar-header.ts';
export { removeStaleTemps, removeStaleTempsIn } from './util/atomic-write.ts';
export { asIoError } from './util/io-error.ts';
export * from './oci/index.ts';
export { formatBytes } from './util/format-bytes.ts';
export { closest } from './util/levenshtein.ts';
export { eachLimit } from './util/each-limit.ts';
export * from './cosign/index.ts';
