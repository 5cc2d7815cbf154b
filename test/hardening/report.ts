import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

const file = path.resolve(import.meta.dirname, '../../dist/hardening-report.json');

/** Figures the hardening suite measured, merged into dist/hardening-report.json for the README. */
export async function recordFigures(section: string, figures: Record<string, number | string>): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  const current = JSON.parse(await readFile(file, 'utf8').catch(() => '{}')) as Record<string, unknown>;
  current[section] = figures;
  await writeFile(file, `${JSON.stringify(current, null, 2)}\n`);
}
