import { LineCounter, parseDocument } from 'yaml';
import { formatPath, locate } from '../spec/locate.ts';
import type { SourceIssue } from '../spec/types.ts';
import { lockValidate } from '../util/contract-schemas.ts';
import { describeSchemaError, pointerToPath } from '../util/schema-errors.ts';
import type { Lock } from './types.ts';

export interface LockValidation {
  value: Lock | undefined;
  errors: SourceIssue[];
}

/**
 * Parse and validate airgap.lock.yaml text against schemas/lock.schema.json. Pure: no file system
 * access. Each error points at its file:line:column. Aliases are refused: the bundler never writes one.
 */
export function validateLockText(text: string, file: string): LockValidation {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const at = (offset: number, path: string, message: string): SourceIssue => {
    const pos = lines.linePos(offset);
    return { file, line: pos.line, column: pos.col, path, message };
  };
  if (doc.errors.length > 0) return { value: undefined, errors: doc.errors.map((e) => at(e.pos[0], '', `YAML: ${e.message.split('\n')[0] ?? 'not YAML'}`)) };
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 0 });
  } catch (err) {
    return { value: undefined, errors: [at(0, '', `YAML: ${(err as Error).message.split('\n')[0] ?? ''}`)] };
  }
  const validate = lockValidate();
  if (validate(data)) return { value: data, errors: [] };
  const errors = (validate.errors ?? []).map((e) => {
    const issue = describeSchemaError(e);
    const path = pointerToPath(e.instancePath);
    const pos = locate(doc, lines, path, issue.key);
    return { file, line: pos.line, column: pos.column, path: formatPath(issue.key === undefined ? path : [...path, issue.key]), message: issue.message };
  });
  errors.sort((a, b) => a.line - b.line || a.column - b.column);
  return { value: undefined, errors };
}
