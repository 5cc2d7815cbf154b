import type { ValidateFunction } from 'ajv';
import { LineCounter, parseDocument } from 'yaml';
import { spec } from '../generated/spec-validator.mjs';
import { describeSchemaError as describe, pointerToPath } from '../util/schema-errors.ts';
import { verifyRuleIssues } from './check-verify-rules.ts';
import { formatPath, locate } from './locate.ts';
import type { SourceIssue, Spec } from './types.ts';

/** Anchors and aliases are legal YAML, but a few hundred are enough for any real spec; more is a bomb. */
const MAX_ALIASES = 100;

/**
 * schemas/airgap.schema.json with `allErrors`, `verbose` and `useDefaults`, precompiled at build
 * time (scripts/gen-validators.mjs): compiling it here cost ~170 ms of every process that read a
 * spec (docs/performance.md, "Where the time goes").
 */
const validate = spec as ValidateFunction<Spec>;

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

  if (validate(data)) {
    // Rules between fields the schema cannot state (check-verify-rules.ts), at the field's position like a schema error.
    const rules = verifyRuleIssues(data, issueAt);
    return { value: rules.length > 0 ? undefined : data, errors: rules, issueAt };
  }

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

function firstLine(message: string): string {
  return message.split('\n')[0] ?? message;
}
