import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli } from '../support/cli.ts';
import { recordFigures } from './report.ts';

const dir = path.resolve(import.meta.dirname, 'bad-specs');
const expected = JSON.parse(await readFile(path.join(dir, 'expected.json'), 'utf8')) as Record<string, { at: string; message: string }>;
const results: { file: string; ok: boolean }[] = [];

describe('bad specs: a clear file:line:column error and exit 2, within bounded time and memory', () => {
  it('the corpus has at least 50 files', () => expect(Object.keys(expected).length).toBeGreaterThanOrEqual(50));

  it.each(Object.entries(expected))('%s', async (file, want) => {
    // Memory bound: a 96 MiB heap; time bound: the CLI's own 20 s timeout below.
    const r = await cli('bundler', ['lock', file], { cwd: dir, env: { NODE_OPTIONS: '--max-old-space-size=96' }, timeout: 20_000 });
    const firstError = r.stderr.split('\n').find((l) => l.startsWith(`${file}:`)) ?? '';
    results.push({ file, ok: r.exitCode === 2 });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/^error\[SPEC_INVALID\]/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(firstError.startsWith(`${file}:${want.at}:`)).toBe(true);
    expect(firstError).toContain(want.message);
  });

  it('records the figures', async () => {
    expect(results.every((r) => r.ok)).toBe(true);
    await recordFigures('badSpecs', { files: results.length, refusedWithExit2: results.filter((r) => r.ok).length, heapLimitMiB: 96, timeLimitSeconds: 20 });
  });
});
