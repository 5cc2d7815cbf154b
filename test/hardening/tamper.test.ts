import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { exitCodeFor, isAirgapError, loadPublicKey, verifyBundle } from '@airgap/core';
import { applyCommand } from '../../packages/applier/src/commands/apply.ts';
import { commonOptions } from '../../packages/applier/src/commands/options.ts';
import { hashTree } from '../applier/node-env.ts';
import { cli } from '../support/cli.ts';
import { site, siteSpec } from '../support/site-fixture.ts';
import { MUTATION_KINDS, mutate, type MutationKind } from './mutations.ts';
import { seededRandom } from './random.ts';
import { recordFigures } from './report.ts';

const MUTATIONS = 1200;

describe('tampering: seeded random mutations of a real bundle', () => {
  it(`verify and apply refuse every one of ${MUTATIONS} mutations; the node tree is unchanged`, async () => {
    const dir = await site();
    expect((await cli('bundler', ['build', 'airgap.yaml', '-o', 'bundle.tar', '--key', 'keys/site.key', '--no-applier'], { cwd: dir })).exitCode).toBe(0);
    await writeFile(path.join(dir, 'airgap.yaml'), siteSpec({ name: 'other-site' }));
    expect((await cli('bundler', ['build', 'airgap.yaml', '-o', 'other.tar', '--key', 'keys/site.key', '--no-applier'], { cwd: dir })).exitCode).toBe(0);
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
    const applied = await refusedByApply(dir, original, other);
    await recordFigures('tampering', {
      ...applied,
      bundleBytes: original.length,
      mutations: MUTATIONS,
      refused: MUTATIONS - accepted.length,
      ...Object.fromEntries(Object.entries(triedBy).map(([k, v]) => [`tried:${k}`, v])),
      ...Object.fromEntries(Object.entries(refusedBy).map(([k, v]) => [`refused:${k}`, v])),
    });
  }, 300_000);
});

/**
 * The same mutations against `applier apply --root`: every one refused before the node is touched.
 * In-process for all of them (the CLI's own code path), and through the CLI for a sample.
 */
async function refusedByApply(dir: string, original: Buffer, other: Buffer): Promise<Record<string, number>> {
  const root = path.join(dir, 'node-root');
  await mkdir(path.join(root, 'etc/airgap/trusted.d'), { recursive: true });
  await writeFile(path.join(root, 'etc/environment'), 'PATH="/usr/bin"\n');
  await copyFile(path.join(dir, 'keys/site.pub'), path.join(root, 'etc/airgap/trusted.d/site.pub'));
  const before = await hashTree(root);
  const mutated = path.join(dir, 'apply-mutated.tar');
  let refused = 0;
  let cliRefused = 0;
  for (let seed = 1; seed <= MUTATIONS; seed++) {
    const kind = MUTATION_KINDS[seed % MUTATION_KINDS.length]!;
    await writeFile(mutated, mutate(kind, original, other, seededRandom(seed)));
    const o = commonOptions(mutated, { root, containerdAddress: path.join(dir, 'none.sock') });
    try {
      await applyCommand(o, () => undefined);
      throw new Error(`apply accepted mutation ${kind}#${seed}`);
    } catch (err) {
      if (!isAirgapError(err)) throw err;
      expect(exitCodeFor(err)).toBe(2);
      refused++;
    }
    if (seed % 24 === 0) {
      const r = await cli('applier', ['apply', mutated, '--root', root, '--containerd-address', path.join(dir, 'none.sock')], {
        env: { PATH: '/nonexistent' },
      });
      expect(r.exitCode).toBe(2);
      cliRefused++;
    }
  }
  expect(await hashTree(root)).toEqual(before);
  return { refusedByApply: refused, refusedByApplierCli: cliRefused };
}
