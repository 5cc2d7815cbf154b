import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { isAirgapError, loadPublicKey, verifyBundle } from '@airgap/core';
import { cli } from '../support/cli.ts';
import { site, siteSpec } from '../support/site-fixture.ts';
import { MUTATION_KINDS, mutate, type MutationKind } from './mutations.ts';
import { seededRandom } from './random.ts';
import { recordFigures } from './report.ts';

const MUTATIONS = 1200;

describe('tampering: seeded random mutations of a real bundle', () => {
  it(`verify refuses every one of ${MUTATIONS} mutations`, async () => {
    const dir = await site();
    expect((await cli('bundler', ['build', 'airgap.yaml', '-o', 'bundle.tar', '--key', 'keys/site.key'], { cwd: dir })).exitCode).toBe(0);
    await writeFile(path.join(dir, 'airgap.yaml'), siteSpec({ name: 'other-site' }));
    expect((await cli('bundler', ['build', 'airgap.yaml', '-o', 'other.tar', '--key', 'keys/site.key'], { cwd: dir })).exitCode).toBe(0);
    const original = await readFile(path.join(dir, 'bundle.tar'));
    const other = await readFile(path.join(dir, 'other.tar'));
    const keys = [await loadPublicKey(path.join(dir, 'keys/site.pub'))];
    await verifyBundle(path.join(dir, 'bundle.tar'), { keys }); // control: the original is accepted

    const mutated = path.join(dir, 'mutated.tar');
    const refusedBy: Record<string, number> = {};
    const triedBy: Partial<Record<MutationKind, number>> = {};
    const accepted: string[] = [];
    for (let seed = 1; seed <= MUTATIONS; seed++) {
      const kind = MUTATION_KINDS[seed % MUTATION_KINDS.length]!;
      const bytes = mutate(kind, original, other, seededRandom(seed));
      if (bytes.equals(original)) throw new Error(`mutation ${kind} seed ${seed} changed nothing`);
      triedBy[kind] = (triedBy[kind] ?? 0) + 1;
      await writeFile(mutated, bytes);
      try {
        await verifyBundle(mutated, { keys });
        accepted.push(`${kind}#${seed}`);
      } catch (err) {
        if (!isAirgapError(err)) throw new Error(`mutation ${kind} seed ${seed} crashed the reader: ${String(err)}`);
        refusedBy[err.code] = (refusedBy[err.code] ?? 0) + 1;
      }
    }
    expect(accepted).toEqual([]);
    await recordFigures('tampering', { bundleBytes: original.length, mutations: MUTATIONS, refused: MUTATIONS - accepted.length, ...Object.fromEntries(Object.entries(triedBy).map(([k, v]) => [`tried:${k}`, v])), ...Object.fromEntries(Object.entries(refusedBy).map(([k, v]) => [`refused:${k}`, v])) });
  }, 300_000);
});
