import { Ajv, type ValidateFunction } from 'ajv';
import type { BundleManifest } from '../bundle/manifest.ts';
import type { Lock } from '../lock/types.ts';
import specSchema from '../../../../schemas/airgap.schema.json' with { type: 'json' };
import lockSchema from '../../../../schemas/lock.schema.json' with { type: 'json' };
import manifestSchema from '../../../../schemas/bundle-manifest.schema.json' with { type: 'json' };

/**
 * The lock and the bundle manifest, as their schemas in schemas/ define them. No defaults: both
 * are read as the bundler wrote them, never filled in. The manifest refers to the spec's schema
 * for its `spec` and to the lock's for its `lock`, so all three are loaded into one instance.
 */
const ajv = new Ajv({ allErrors: true, verbose: true, strict: true });
ajv.addKeyword('x-hint');
ajv.addSchema(specSchema);
ajv.addSchema(lockSchema);

let lockValidator: ValidateFunction<Lock> | undefined;
let manifestValidator: ValidateFunction<BundleManifest> | undefined;

/** Compiled on first use: `applier status` without a bundle never pays for it. */
export function lockValidate(): ValidateFunction<Lock> {
  return (lockValidator ??= ajv.getSchema<Lock>(lockSchema.$id)!);
}

export function manifestValidate(): ValidateFunction<BundleManifest> {
  return (manifestValidator ??= ajv.compile<BundleManifest>(manifestSchema));
}
