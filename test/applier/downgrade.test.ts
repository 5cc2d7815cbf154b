import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { describe, expect, it, test } from 'vitest';
import { parse } from 'yaml';
import type { BundleManifest, Lock } from '@airgap/core';
import { downgradeProblems, type AppliedSeen } from '../../packages/applier/src/preflight.ts';
import { makeBundle, makeKeys, STANDARD_SNAPS } from '../support/bundle-fixture.ts';
import { cli } from '../support/cli.ts';
import { site } from '../support/site-fixture.ts';
import { hashTree, makeNode } from './node-env.ts';

// No downgrade, no replay: the signature says who built a bundle, the sequence and createdAt when.

type Head = Pick<BundleManifest, 'name' | 'createdAt' | 'sequence' | 'expiresAt' | 'snaps'>;
const M: Head = { name: 'site', createdAt: '2026-01-10T00:00:00.000Z', sequence: 5, snaps: [] };
const LAST = { name: 'site', digest: 'sha256:aa', sequence: 5, createdAt: '2026-01-10T00:00:00.000Z' };
const NOW = Date.parse('2026-02-01T00:00:00.000Z');
const k8s = (revision: number) => ({ name: 'k8s', role: 'k8s', revision, classic: true, sha3_384: '', size: 1, snapPath: '', assertPath: '' }) as const;

describe('downgradeProblems', () => {
  const CASES: [string, Partial<Head>, Partial<AppliedSeen>, string[]][] = [
    ['the same bundle again', {}, {}, []],
    ['a newer sequence', { sequence: 6 }, {}, []],
    ['a lower sequence', { sequence: 4 }, {}, ['BUNDLE_DOWNGRADE sequence']],
    ['a lower sequence, created later: the sequence decides', { sequence: 4, createdAt: '2026-01-20T00:00:00.000Z' }, {}, ['BUNDLE_DOWNGRADE sequence']],
    ['no sequence, created earlier', { sequence: undefined, createdAt: '2026-01-01T00:00:00.000Z' }, {}, ['BUNDLE_DOWNGRADE sequence']],
    [
      'a state from before sequences, created earlier',
      { createdAt: '2026-01-01T00:00:00.000Z' },
      { last: { name: 'site', digest: 'sha256:aa', createdAt: '2026-01-10T00:00:00.000Z' } },
      ['BUNDLE_DOWNGRADE sequence'],
    ],
    ['another bundle name: sequences do not compare', { name: 'other', sequence: 1 }, {}, []],
    ['nothing applied yet', { sequence: 1 }, { last: undefined }, []],
    ['expired', { expiresAt: '2026-01-31T00:00:00.000Z' }, {}, ['BUNDLE_EXPIRED expires']],
    ['not yet expired', { expiresAt: '2026-03-01T00:00:00.000Z' }, {}, []],
    ['a k8s revision below the installed one', { sequence: 6, snaps: [k8s(3000)] }, { snaps: { k8s: 3001 } }, ['BUNDLE_DOWNGRADE snap k8s']],
    ['a k8s revision above the installed one', { sequence: 6, snaps: [k8s(3002)] }, { snaps: { k8s: 3001 } }, []],
    ['k8s not installed', { snaps: [k8s(3000)] }, { snaps: {} }, []],
  ];
  it.each(CASES)('%s', (_name, m, applied, want) => {
    const problems = downgradeProblems({ ...M, ...m }, { last: LAST, snaps: {}, now: NOW, ...applied });
    expect(problems.map((p) => `${p.code} ${p.about}`)).toEqual(want);
  });
});

describe('the applier refuses an older bundle', () => {
  test('an older bundle after a newer one: exit 2, node unchanged; --allow-downgrade applies it', async () => {
    const node = await makeNode();
    const keys = makeKeys();
    const hosts = (v: string) => ({ 'docker.io/hosts.toml': `server = "https://registry-1.docker.io"\n# ${v}\n` });
    const newer = await makeBundle({
      dir: node.work,
      out: 'v2.tar',
      keys,
      name: 'site',
      sequence: 2,
      createdAt: '2026-01-02T00:00:00.000Z',
      hosts: hosts('v2'),
    });
    const older = await makeBundle({
      dir: node.work,
      out: 'v1.tar',
      keys,
      name: 'site',
      sequence: 1,
      createdAt: '2026-01-01T00:00:00.000Z',
      hosts: hosts('v1'),
    });
    const args = (b: { file: string }, ...more: string[]) => ['apply', b.file, '--pub', newer.pubFile, ...more];

    const first = await node.applier(args(newer));
    expect(first.stderr).toBe('');
    expect(first.exitCode).toBe(0);
    const state = async () =>
      (JSON.parse(await readFile(path.join(node.root, 'var/lib/airgap/state.json'), 'utf8')) as { bundle: Record<string, unknown> }).bundle;
    expect(await state()).toMatchObject({ name: 'site', sequence: 2, createdAt: '2026-01-02T00:00:00.000Z' });

    const tree = await hashTree(node.root);
    const calls = await node.calls();
    const refused = await node.applier(args(older));
    expect(refused.exitCode).toBe(2);
    expect(refused.stderr).toContain('error[BUNDLE_DOWNGRADE]');
    expect(refused.stderr).toContain('sequence 1 is below 2');
    expect(refused.stdout).toMatch(/^fail +preflight/m);
    expect(await hashTree(node.root)).toEqual(tree);
    // Not a snap, not a k8s call beyond the read-only ones.
    expect((await node.calls()).slice(calls.length).filter((c) => / (install|ack|bootstrap|join-cluster|restart)\b/.test(c))).toEqual([]);

    const plan = await node.applier(['plan', older.file, '--pub', newer.pubFile, '--json']);
    const pre = (JSON.parse(plan.stdout) as { steps: { id: string; status: string; changes: { target: string; change: { code?: string } }[] }[] }).steps[0]!;
    expect(pre.status).toBe('fail');
    expect(pre.changes.map((c) => `${c.change.code} ${c.target}`)).toEqual(['BUNDLE_DOWNGRADE sequence']);

    const allowed = await node.applier(args(older, '--allow-downgrade'));
    expect(allowed.stderr).toBe('');
    expect(allowed.exitCode).toBe(0);
    expect(await readFile(path.join(node.root, 'etc/containerd/hosts.d/docker.io/hosts.toml'), 'utf8')).toContain('# v1');
    expect(await state()).toMatchObject({ sequence: 1 });
  });

  test('an expired bundle and a lower k8s revision are refused with nothing changed', async () => {
    const node = await makeNode();
    const keys = makeKeys();
    const first = await makeBundle({ dir: node.work, out: 'a.tar', keys, name: 'a' });
    expect((await node.applier(['apply', first.file, '--pub', first.pubFile])).exitCode).toBe(0);
    const tree = await hashTree(node.root);

    const expired = await makeBundle({ dir: node.work, out: 'expired.tar', keys, name: 'a', expiresAt: '2025-02-01T00:00:00.000Z' });
    const r1 = await node.applier(['apply', expired.file, '--pub', first.pubFile]);
    expect(r1.exitCode).toBe(2);
    expect(r1.stderr).toContain('error[BUNDLE_EXPIRED]');
    expect(r1.stderr).toContain('expired at 2025-02-01T00:00:00.000Z');

    const snaps = STANDARD_SNAPS.map((s) => (s.name === 'k8s' ? { ...s, revision: 2999 } : s));
    const lower = await makeBundle({ dir: node.work, out: 'lower.tar', keys, name: 'b', snaps });
    const r2 = await node.applier(['apply', lower.file, '--pub', first.pubFile]);
    expect(r2.exitCode).toBe(2);
    expect(r2.stderr).toContain('error[BUNDLE_DOWNGRADE]');
    expect(r2.stderr).toContain('k8s revision 2999, below the installed 3001');
    expect(await hashTree(node.root)).toEqual(tree);

    const r3 = await node.applier(['apply', lower.file, '--pub', first.pubFile, '--allow-downgrade']);
    expect(r3.exitCode).toBe(0);
    expect(r3.stdout).toContain('refresh k8s=2999');
  });
});

describe('the bundler numbers its builds', () => {
  const build = (dir: string, out: string, ...more: string[]) =>
    cli('bundler', ['build', 'airgap.yaml', '-o', out, '--key', 'keys/site.key', '--no-applier', ...more], {
      cwd: dir,
      env: { SOURCE_DATE_EPOCH: '1700000000' },
    });
  const manifestOf = async (dir: string, tar: string) =>
    JSON.parse(String((await execa('tar', ['-xOf', tar, 'airgap/manifest.json'], { cwd: dir })).stdout)) as BundleManifest;
  const lockOf = async (dir: string) => parse(await readFile(path.join(dir, 'airgap.lock.yaml'), 'utf8')) as Lock;

  it('sequence 1, the same on an identical rebuild (byte-identical), one more when the content changes, kept by --frozen', async () => {
    const dir = await site();
    expect((await build(dir, 'a.tar')).exitCode).toBe(0);
    const lockA = await lockOf(dir);
    expect(lockA.bundle).toMatchObject({ name: 'test-site', sequence: 1 });
    expect((await build(dir, 'b.tar')).exitCode).toBe(0);
    expect((await readFile(path.join(dir, 'a.tar'))).equals(await readFile(path.join(dir, 'b.tar')))).toBe(true);
    expect((await lockOf(dir)).bundle).toEqual(lockA.bundle);

    const spec = path.join(dir, 'airgap.yaml');
    await writeFile(spec, (await readFile(spec, 'utf8')).replace('metadata: {name: test-site}', 'metadata: {name: test-site, expires: 90d}'));
    const c = await build(dir, 'c.tar');
    expect(c.stderr).toBe('');
    expect(c.exitCode).toBe(0);
    expect((await lockOf(dir)).bundle).toMatchObject({ name: 'test-site', sequence: 2 });
    const frozen = await build(dir, 'd.tar', '--frozen');
    expect(frozen.exitCode).toBe(0);
    expect((await lockOf(dir)).bundle).toMatchObject({ sequence: 2 });
    expect((await readFile(path.join(dir, 'c.tar'))).equals(await readFile(path.join(dir, 'd.tar')))).toBe(true);

    expect(await manifestOf(dir, 'a.tar')).toMatchObject({ sequence: 1 });
    expect(await manifestOf(dir, 'c.tar')).toMatchObject({ sequence: 2, createdAt: '2023-11-14T22:13:20.000Z', expiresAt: '2024-02-12T22:13:20.000Z' });
  });
});
