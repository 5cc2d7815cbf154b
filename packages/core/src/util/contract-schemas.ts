import type { ValidateFunction } from 'ajv';
import type { BundleManifest } from '../bundle/manifest.ts';
import { lock, manifest } from '../generated/contract-validators.mjs';
import type { Lock } from '../lock/types.ts';

/**
 * The lock and the bundle manifest, as their schemas in schemas/ define them. No defaults: both
 * are read as the bundler wrote them, never filled in. The validators are precompiled at build
 * time (scripts/gen-validators.mjs, ajv's standalone code with `allErrors` and `verbose`): no
 * process compiles a schema, and the errors are ajv's own objects, as schema-errors.ts reads them.
 */
export function lockValidate(): ValidateFunction<Lock> {
  return lock as ValidateFunction<Lock>;
}

export function manifestValidate(): ValidateFunction<BundleManifest> {
  return manifest as ValidateFunction<BundleManifest>;
}
