import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { describe, expect, onTestFinished, test } from 'vitest';
import type { HistoryEntry } from '../../packages/applier/src/state/history.ts';
import { makeBundle, makeKeys } from '../support/bundle-fixture.ts';
import { startContainerd } from '../support/containerd.ts';
import { makeNode } from './node-env.ts';

const applierJs = path.resolve(import.meta.dirname, '../../dist/applier.mjs');
const history = async (root: string, ...more: string[]) => execa(process.execPath, [applierJs, 'history', '--root', root, ...more], { reject: false });

describe('applier history', () => {
  test('every apply past preflight is a line of history.jsonl: ok with its changes, failed with its error; a refused one is not', async () => {
    const node = await makeNode();
    const keys = makeKeys();
    const empty = await history(node.root);
    expect(empty.exitCode).toBe(0);
    expect(empty.stdout).toBe('no apply recorded yet');

    const v2 = await makeBundle({ dir: node.work, out: 'v2.tar', keys, name: 'site', sequence: 2, hosts: { 'docker.io/hosts.toml': 'server = "x"\n' } });
    const v1 = await makeBundle({ dir: node.work, out: 'v1.tar', keys, name: 'site', sequence: 1 });
    expect((await node.applier(['apply', v2.file, '--pub', v2.pubFile])).exitCode).toBe(0);
    expect((await node.applier(['apply', v1.file, '--pub', v2.pubFile])).exitCode).toBe(2);
    // A step that fails: the images step cannot run ctr.
    const containerd = await startContainerd();
    onTestFinished(() => containerd.stop());
    const v3 = await makeBundle({
      dir: node.work,
      out: 'v3.tar',
      keys,
      name: 'site',
      sequence: 3,
      images: [{ ref: 'docker.io/library/hello:1.0', files: { 'a.txt': 'a\n' } }],
    });
    const failed = await node.applier(['apply', v3.file, '--pub', v2.pubFile, '--ctr', '/nonexistent/ctr', '--containerd-address', containerd.address]);
    expect(failed.exitCode).toBe(1);

    const r = await history(node.root, '--json');
    expect(r.exitCode).toBe(0);
    const entries = JSON.parse(r.stdout) as HistoryEntry[];
    expect(entries.map((e) => `${e.result} ${e.bundle.name} #${e.bundle.sequence}`)).toEqual(['ok site #2', 'failed site #3']);
    expect(entries[0]!.bundle).toEqual({
      name: 'site',
      digest: expect.stringMatching(/^sha256:[a-f0-9]{64}$/) as string,
      sequence: 2,
      createdAt: '2025-01-01T00:00:00.000Z',
      signer: keys.fingerprint,
    });
    expect(entries[0]!.changes).toContainEqual({ step: 'containerd-hosts', action: 'write', target: '/etc/containerd/hosts.d/docker.io/hosts.toml' });
    expect(entries[0]!.changes.some((c) => c.step === 'snaps')).toBe(true);
    expect(entries[1]!.error).toMatchObject({ code: 'STEP_FAILED', message: expect.stringContaining('step images failed') as string });
    expect(Date.parse(entries[1]!.time)).toBeGreaterThanOrEqual(Date.parse(entries[0]!.time));

    // Append-only: one JSON object a line, the first line as it was written.
    const lines = (await readFile(path.join(node.root, 'var/lib/airgap/history.jsonl'), 'utf8')).trimEnd().split('\n');
    expect(lines).toHaveLength(2);
    expect(JSON.parse(lines[0]!)).toEqual(entries[0]);

    const text = await history(node.root);
    expect(text.stdout.split('\n')).toHaveLength(2);
    expect(text.stdout).toMatch(/ ok +site #2 sha256:[a-f0-9]{12} signed by SHA256:\S+ +\d+ change\(s\)/);
    expect(text.stdout).toMatch(/ failed site #3 .*STEP_FAILED: step images failed/);
  });
});
