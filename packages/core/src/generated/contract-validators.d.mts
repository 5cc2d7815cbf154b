// Types of contract-validators.mjs, which scripts/gen-validators.mjs generates at build time (not committed).
import type { ValidateFunction } from 'ajv';

/** schemas/bundle-manifest.schema.json (with the spec's and the lock's schemas it refers to). */
export declare const manifest: ValidateFunction;
/** schemas/lock.schema.json. */
export declare const lock: ValidateFunction;
