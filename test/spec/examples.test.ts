import { readFile } from 'node:fs/promises';
import path from 'node:path';
import fg from 'fast-glob';
import { describe, expect, it } from 'vitest';
import { validateSpecText } from '@airgap/core';

const root = path.resolve(import.meta.dirname, '../..');
const examples = fg.sync('examples/**/airgap.yaml', { cwd: root });

describe('every example spec is valid against schemas/airgap.schema.json', () => {
  it('finds the examples', () => expect(examples.length).toBeGreaterThanOrEqual(2));
  it.each(examples)('%s', async (file) => {
    const text = await readFile(path.join(root, file), 'utf8');
    expect(text).toMatch(/^# yaml-language-server: \$schema=.*schemas\/airgap\.schema\.json$/m);
    const r = validateSpecText(text, file);
    expect(r.errors).toEqual([]);
    expect(r.value?.apiVersion).toBe('airgap/v1alpha1');
  });
});
