import { chmod, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { isAirgapError } from '@airgap/core';
import { ctrLabelEach, K8S_NAMESPACE } from '../../packages/applier/src/tools/ctr.ts';
import { makeBundle, makeKeys, type FixtureImage } from '../support/bundle-fixture.ts';
import { containerdForTest as startContainerd, ctrImages } from '../support/containerd.ts';
import { makeNode, type TestNode } from './node-env.ts';

// More refs than LABEL_JOBS (tools/ctr.ts), so the labels run in more than one round.
const IMAGES: FixtureImage[] = Array.from({ length: 6 }, (_, i) => ({ ref: `registry.example.test/app${i}:v1`, files: { [`app${i}.txt`]: `app ${i}\n` } }));

/**
 * The real ctr behind a logging shim (--ctr takes a path): every call is a line "verb args",
 * without the --address and --namespace every call starts with. The shim only logs; ctr does the work.
 */
async function loggedCtr(node: TestNode): Promise<{ file: string; calls(): Promise<string[]> }> {
  const log = path.join(node.work, 'ctr-calls.log');
  const file = path.join(node.work, 'ctr');
  await writeFile(file, `#!/bin/sh\nprintf '%s\\n' "$*" >> '${log}'\nexec ctr "$@"\n`);
  await chmod(file, 0o755);
  const calls = async () =>
    (await readFile(log, 'utf8').catch(() => ''))
      .split('\n')
      .filter(Boolean)
      .map((l) => l.replace(/^--address \S+ --namespace k8s\.io /, ''));
  return { file, calls };
}

describe('ctr calls of an apply (real containerd)', () => {
  test('an import asks `images ls` once (preflight and the images step share it), labels every ref, and prune asks nothing when nothing can go', async () => {
    const containerd = await startContainerd();
    const node = await makeNode();
    const ctr = await loggedCtr(node);
    const keys = makeKeys();
    const b = await makeBundle({ dir: node.work, keys, snaps: [], images: IMAGES });
    const args = (file: string) => ['apply', file, '--pub', b.pubFile, '--ctr', ctr.file, '--containerd-address', containerd.address];
    let seen = 0;
    const newCalls = async () => {
      const all = await ctr.calls();
      const fresh = all.slice(seen);
      seen = all.length;
      return fresh;
    };

    const first = await node.applier(args(b.file));
    expect(first.stderr).toBe('');
    expect(first.exitCode).toBe(0);
    const calls = await newCalls();
    expect(calls.slice(0, 2)).toEqual(['images ls', 'images import -']);
    expect(calls.slice(2).sort()).toEqual(IMAGES.map((i) => `images label ${i.ref} io.cri-containerd.pinned=pinned`).sort());
    expect(await ctrImages(containerd.address, 'labels')).toEqual(Object.fromEntries(IMAGES.map((i) => [i.ref, 'io.cri-containerd.pinned=pinned'])));
    expect(first.stdout).toMatch(/^ok +prune +nothing to change/m);

    // Converged: one question to containerd, and nothing changes.
    const again = await node.applier(args(b.file));
    expect(again.exitCode).toBe(0);
    expect(again.stdout).toContain('converged: nothing changed');
    expect(await newCalls()).toEqual(['images ls']);

    // A bundle without app5: prune has something to look at, and asks containerd what is there and in use.
    const fewer = await makeBundle({ dir: node.work, out: 'fewer.tar', keys, snaps: [], images: IMAGES.slice(0, 5) });
    const third = await node.applier(args(fewer.file));
    expect(third.exitCode).toBe(0);
    expect(third.stdout).toContain('remove registry.example.test/app5:v1');
    expect((await newCalls()).sort()).toEqual(['containers ls', 'images ls', 'images ls', 'images rm registry.example.test/app5:v1']);
    expect(Object.keys(await ctrImages(containerd.address, 'digest')).sort()).toEqual(IMAGES.slice(0, 5).map((i) => i.ref));
  });

  test('a step before the images step that changes the node makes the images step ask containerd again', async () => {
    const containerd = await startContainerd();
    const node = await makeNode();
    const ctr = await loggedCtr(node);
    // The standard snaps: the snaps step installs them before the images step runs.
    const b = await makeBundle({ dir: node.work, images: IMAGES.slice(0, 2) });
    const r = await node.applier(['apply', b.file, '--pub', b.pubFile, '--ctr', ctr.file, '--containerd-address', containerd.address]);
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(/^change +snaps/m);
    const calls = await ctr.calls();
    expect(calls.slice(0, 3)).toEqual(['images ls', 'images ls', 'images import -']);
    expect(await ctrImages(containerd.address, 'digest')).toEqual(Object.fromEntries(b.manifest.images.map((i) => [i.ref, i.digest])));
  });

  test('ctrLabelEach: a ref containerd lacks fails with TOOL_FAILED naming it, after the calls already running are done', async () => {
    const containerd = await startContainerd();
    const node = await makeNode();
    const b = await makeBundle({ dir: node.work, snaps: [], images: IMAGES });
    expect((await node.applier(['apply', b.file, '--pub', b.pubFile, '--ctr', 'ctr', '--containerd-address', containerd.address])).exitCode).toBe(0);
    const o = { ctr: 'ctr', address: containerd.address };
    // Last in the queue: every call before it has started when it fails, and each is waited for.
    const refs = [...IMAGES.map((i) => i.ref), 'registry.example.test/missing:v1'];
    const err = await ctrLabelEach(o, refs, 'example.test/mark', 'yes').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isAirgapError(err, 'TOOL_FAILED')).toBe(true);
    expect((err as Error).message).toContain(`--namespace ${K8S_NAMESPACE} images label registry.example.test/missing:v1`);
    const labels = await ctrImages(containerd.address, 'labels');
    for (const i of IMAGES) expect(labels[i.ref]).toBe('example.test/mark=yes,io.cri-containerd.pinned=pinned');
  });
});
