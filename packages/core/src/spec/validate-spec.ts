import { Ajv, type ErrorObject } from 'ajv';
import { LineCounter, parseDocument } from 'yaml';
import schema from '../../../../schemas/airgap.schema.json' with { type: 'json' };
import { closest } from '../util/levenshtein.ts';
import { formatPath, locate } from './locate.ts';
import type { SourceIssue, Spec } from './types.ts';

/** Anchors and aliases are legal YAML, but a few hundred are enough for any real spec; more is a bomb. */
const MAX_ALIASES = 100;

const ajv = new Ajv({ allErrors: true, useDefaults: true, verbose: true, strict: true });
ajv.addKeyword('x-hint');
const validate = ajv.compile<Spec>(schema);

export interface SpecValidation {
  value: Spec | undefined;
  errors: SourceIssue[];
  /** Builds an issue pointing at a path of the document, for checks made after the schema. */
  issueAt(path: readonly (string | number)[], message: string): SourceIssue;
}

/** Parse and validate airgap.yaml text. Pure: no file system access. */
export function validateSpecText(text: string, file: string): SpecValidation {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true, strict: true });
  const at = (line: number, column: number, path: string, message: string): SourceIssue => ({ file, line, column, path, message });
  const issueAt = (path: readonly (string | number)[], message: string): SourceIssue => {
    const pos = locate(doc, lines, path);
    return at(pos.line, pos.column, formatPath(path), message);
  };

  const syntax = [...doc.errors, ...doc.warnings.filter((w) => w.code !== 'TAG_RESOLVE_FAILED')];
  if (doc.errors.length > 0) {
    return {
      value: undefined,
      errors: syntax.map((e) => {
        const pos = lines.linePos(e.pos[0]);
        // The parser recurses per nesting level; a hostile file runs it out of stack.
        const message = /call stack/i.test(e.message) ? 'nested too deeply' : firstLine(e.message);
        return at(pos.line, pos.col, '', `YAML: ${message}`);
      }),
      issueAt,
    };
  }

  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: MAX_ALIASES });
  } catch (err) {
    return { value: undefined, errors: [at(1, 1, '', `YAML: ${firstLine((err as Error).message)} (more than ${MAX_ALIASES} aliases is refused)`)], issueAt };
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    return { value: undefined, errors: [at(1, 1, '', 'the document must be a mapping with apiVersion, kind, metadata and k8s')], issueAt };
  }

  if (validate(data)) return { value: data, errors: [], issueAt };

  const seen = new Set<string>();
  const errors: SourceIssue[] = [];
  // An `if` failure only repeats the then/else errors beside it (images.refs[] string or object).
  const described = (validate.errors ?? []).filter((e) => e.keyword !== 'if').map((e) => ({ e, issue: describe(e) }));
  // "missing channel" beside "unknown chanel, did you mean channel?" says the same thing twice.
  const typoFor = new Set(described.filter((d) => d.issue.suggests).map((d) => `${d.e.instancePath}|${d.issue.suggests}`));
  for (const { e, issue } of described) {
    if (issue.missing && typoFor.has(`${e.instancePath}|${issue.missing}`)) continue;
    const path = pointerToPath(e.instancePath);
    const pos = locate(doc, lines, path, issue.key);
    const where = formatPath(issue.key === undefined ? path : [...path, issue.key]);
    const id = `${where}|${pos.line}:${pos.column}`;
    if (seen.has(id)) continue;
    seen.add(id);
    errors.push(at(pos.line, pos.column, where, issue.message));
  }
  errors.sort((a, b) => a.line - b.line || a.column - b.column);
  return { value: undefined, errors, issueAt };
}

function describe(e: ErrorObject): { key?: string; message: string; suggests?: string; missing?: string } {
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

function pointerToPath(pointer: string): (string | number)[] {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}

function firstLine(message: string): string {
  return message.split('\n')[0] ?? message;
}
