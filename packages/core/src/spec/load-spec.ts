import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { AirgapError } from '../errors.ts';
import type { LoadedSpec, SourceIssue } from './types.ts';
import { validateSpecText, type SpecValidation } from './validate-spec.ts';

/** A real spec is a few KiB; refuse anything that could only be a mistake or an attack. */
export const MAX_SPEC_BYTES = 1024 * 1024;

/** Read, validate and check airgap.yaml and the files it names. Throws SPEC_INVALID listing every problem. */
export async function loadSpec(file: string): Promise<LoadedSpec> {
  const abs = path.resolve(file);
  const shown = path.relative(process.cwd(), abs) || abs;
  let size: number;
  try {
    size = (await stat(abs)).size;
  } catch (err) {
    throw new AirgapError('SPEC_NOT_FOUND', `cannot read spec ${shown}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, {
      hint: 'pass the path of your airgap.yaml',
      cause: err,
    });
  }
  if (size > MAX_SPEC_BYTES) {
    throw specInvalid(shown, [{ file: shown, line: 1, column: 1, path: '', message: `file is ${size} bytes; a spec may be at most ${MAX_SPEC_BYTES}` }]);
  }
  const text = await readFile(abs, 'utf8');
  const result = validateSpecText(text, shown);
  if (!result.value) throw specInvalid(shown, result.errors);
  const dir = path.dirname(abs);
  const missing = await checkReferencedFiles(result, dir);
  if (missing.length > 0) throw specInvalid(shown, missing);
  return { file: abs, dir, text, spec: result.value };
}

async function checkReferencedFiles(result: SpecValidation, dir: string): Promise<SourceIssue[]> {
  const spec = result.value;
  if (!spec) return [];
  const refs: { path: (string | number)[]; value: string; kind: 'file' | 'dir' }[] = [];
  if (spec.sources?.snapsDir) refs.push({ path: ['sources', 'snapsDir'], value: spec.sources.snapsDir, kind: 'dir' });
  for (const [registry, source] of Object.entries(spec.sources?.registries ?? {})) {
    if (source.ca) refs.push({ path: ['sources', 'registries', registry, 'ca'], value: source.ca, kind: 'file' });
  }
  spec.containerd?.mirrors.forEach((m, i) => {
    if (m.ca) refs.push({ path: ['containerd', 'mirrors', i, 'ca'], value: m.ca, kind: 'file' });
  });
  spec.workloads?.charts.forEach((c, i) => {
    c.values.forEach((v, j) => refs.push({ path: ['workloads', 'charts', i, 'values', j], value: v, kind: 'file' }));
  });
  // A glob may match nothing yet; a plain path must be there (the bundler refuses an empty glob).
  spec.workloads?.manifests.forEach((m, i) => {
    if (!/[*?[\]{}!]/.test(m)) refs.push({ path: ['workloads', 'manifests', i], value: m, kind: 'file' });
  });
  spec.images?.verify?.forEach((r, i) => {
    if (r.key !== undefined) refs.push({ path: ['images', 'verify', i, 'key'], value: r.key, kind: 'file' });
    if (r.trustedRoot !== undefined) refs.push({ path: ['images', 'verify', i, 'trustedRoot'], value: r.trustedRoot, kind: 'file' });
  });
  const bootstrap = spec.cluster?.bootstrap?.config;
  if (bootstrap) refs.push({ path: ['cluster', 'bootstrap', 'config'], value: bootstrap, kind: 'file' });

  const issues: SourceIssue[] = [];
  for (const ref of refs) {
    const target = path.resolve(dir, ref.value);
    const st = await stat(target).catch(() => undefined);
    const ok = ref.kind === 'dir' ? st?.isDirectory() : st?.isFile();
    if (!ok)
      issues.push(result.issueAt(ref.path, `${ref.kind === 'dir' ? 'folder' : 'file'} ${ref.value} not found (paths are relative to the spec's folder)`));
  }
  return issues;
}

export function formatIssues(issues: readonly SourceIssue[]): string {
  return issues.map((i) => `${i.file}:${i.line}:${i.column}: ${i.path ? `${i.path}: ` : ''}${i.message}`).join('\n');
}

function specInvalid(file: string, issues: SourceIssue[]): AirgapError {
  const err = new AirgapError('SPEC_INVALID', `${file} is invalid:\n${formatIssues(issues)}`, {
    hint: 'fix the fields above; schemas/airgap.schema.json lists every field and the README explains them',
  });
  return Object.assign(err, { issues });
}
