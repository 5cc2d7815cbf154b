// Types of spec-validator.mjs, which scripts/gen-validators.mjs generates at build time (not committed).
import type { ValidateFunction } from 'ajv';

/** schemas/airgap.schema.json, filling in its defaults (`useDefaults`). */
export declare const spec: ValidateFunction;
