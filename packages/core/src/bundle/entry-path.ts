import path from 'node:path';
import { AirgapError } from '../errors.ts';
import { MAX_ENTRY_PATH } from './manifest.ts';

const SAFE_SEGMENT = /^[A-Za-z0-9_][A-Za-z0-9_.:+@=-]*$/;

/** Why an entry path is unsafe, or undefined when it is a plain relative path inside the bundle. */
export function entryPathProblem(p: string): string | undefined {
  if (p.length === 0) return 'empty path';
  if (Buffer.byteLength(p) > MAX_ENTRY_PATH) return `longer than ${MAX_ENTRY_PATH} bytes`;
  if (p.startsWith('/')) return 'absolute path';
  for (const segment of p.split('/')) {
    if (segment === '..' || segment === '.') return `"${segment}" segment`;
    if (!SAFE_SEGMENT.test(segment)) return `unsafe segment "${segment}"`;
  }
  return undefined;
}

export function assertEntryPath(p: string): void {
  const problem = entryPathProblem(p);
  if (problem)
    throw new AirgapError('PATH_TRAVERSAL', `bundle entry ${JSON.stringify(p)} is refused: ${problem}`, {
      hint: 'the bundle is malformed or hostile; rebuild it with `bundler build`',
    });
}

/** Join a relative path under root, refusing anything that would land outside it. */
export function resolveInside(root: string, relative: string): string {
  const target = path.resolve(root, relative);
  const rel = path.relative(root, target);
  if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel)) {
    throw new AirgapError('PATH_TRAVERSAL', `${JSON.stringify(relative)} points outside ${root}`, {
      hint: 'the bundle is malformed or hostile; rebuild it with `bundler build`',
    });
  }
  return target;
}
