import type { ErrorObject } from 'ajv';
import { closest } from './levenshtein.ts';

/** One ajv error in words: the key it is about (for unknown keys), and what a typo or a missing key suggests. */
export interface DescribedSchemaError {
  key?: string;
  message: string;
  suggests?: string;
  missing?: string;
}

/** Needs ajv's `verbose` (for `data` and `parentSchema`). `x-hint` of the failing schema words a pattern. */
export function describeSchemaError(e: ErrorObject): DescribedSchemaError {
  const parent = (e.parentSchema ?? {}) as { 'x-hint'?: string; properties?: Record<string, unknown> };
  const got = JSON.stringify(e.data);
  switch (e.keyword) {
    case 'additionalProperties': {
      const key = String((e.params as { additionalProperty: string }).additionalProperty);
      const allowed = Object.keys(parent.properties ?? {});
      const guess = closest(key, allowed);
      const suggestion = guess ? `; did you mean "${guess}"?` : '';
      return { key, message: `unknown key "${key}"${suggestion} (allowed: ${allowed.join(', ')})`, suggests: guess };
    }
    case 'required': {
      const key = String((e.params as { missingProperty: string }).missingProperty);
      return { message: `missing required key "${key}"`, missing: key };
    }
    case 'type':
      return { message: `must be ${String((e.params as { type: string }).type)}, got ${typeName(e.data)}` };
    case 'const':
      return { message: `must be ${JSON.stringify((e.params as { allowedValue: unknown }).allowedValue)}, got ${got}` };
    case 'enum':
      return { message: `must be one of ${(e.params as { allowedValues: unknown[] }).allowedValues.map((v) => JSON.stringify(v)).join(', ')}, got ${got}` };
    case 'pattern':
      return { message: `${got} is not ${parent['x-hint'] ?? `matching ${String((e.params as { pattern: string }).pattern)}`}` };
    case 'propertyNames':
      return { message: `invalid key: ${e.message ?? ''}` };
    default:
      return { message: `${e.message ?? 'is invalid'}${e.data === undefined ? '' : ` (got ${got})`}` };
  }
}

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v === 'number' && Number.isInteger(v) ? 'integer' : typeof v;
}

/** `/containerd/mirrors/0/endpoint` → ['containerd', 'mirrors', 0, 'endpoint']. */
export function pointerToPath(pointer: string): (string | number)[] {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}
