import { chmod, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import type { DiskUse } from '../../packages/applier/src/disk-plan.ts';
import { hashTree, makeNode, nodeSnapshot, type TestNode } from '../applier/node-env.ts';
import { makeBundle, makeKeys, STANDARD_SNAPS, type BundleFixture, type BundleFixtureOptions } from '../support/bundle-fixture.ts';
import { pausedAt, pausedLine } from '../support/pause-at.ts';
import { testdir } from '../support/tmpdir.ts';
import { FILLER, fillTmpfs, freeBytes, mountTmpfs } from '../support/tmpfs.ts';
import { recordFigures } from './report.ts';

const PAGE = 4096;
const STATE = 'var/lib/airgap/state.json';

/** What the node converged to before the new bundle. */
const OLD: Omit<BundleFixtureOptions, 'dir'> = {
  out: 'old.tar',
  hosts: { 'docker.io/hosts.toml': 'server = "https://registry-1.docker.io"\n', 'quay.io/hosts.toml': 'server = "https://quay.io"\n' },
  images: [{ ref: 'docker.io/library/hello:1.0', files: { 'hello.txt': 'hello\n' } }],
  proxy: { http: 'http://proxy:3128', noProxy: [] },
  bootstrap: 'cluster-config:\n  network:\n    enabled: true\n',
};

/** The bundle applied on the small disk: every step that writes has something to write (or remove). */
const NEW: Omit<BundleFixtureOptions, 'dir'> = {
  ...OLD,
  out: 'new.tar',
  snaps: STANDARD_SNAPS.map((s) => (s.name === 'k8s' ? { ...s, revision: 3002 } : s)),
  hosts: {
    'docker.io/hosts.toml': 'server = "https://registry-1.docker.io"\n[host."https://mirror.internal:5000"]\n  capabilities = ["pull", "resolve"]\n',
    'ghcr.io/hosts.toml': 'server = "https://ghcr.io"\n[host."https://mirror.internal:5000"]\n  capabilities = ["pull", "resolve"]\n',
    'registry.k8s.io/hosts.toml': 'server = "https://registry.k8s.io"\n[host."https://mirror.internal:5000"]\n  capabilities = ["pull", "resolve"]\n',
  },
  images: [
    { ref: 'docker.io/library/hello:1.0', files: { 'hello.txt': 'hello\n' } },
    { ref: 'ghcr.io/canonical/k8s-snap/pause:3.10', files: { 'pause.txt': 'pause\n' } },
    // Several pages: the disk can fill in the middle of streaming it.
    { ref: 'docker.io/library/big:1.0', files: { 'big.txt': 'big\n'.repeat(3 * 1024) } },
  ],
  proxy: { http: 'http://proxy-2:3128', https: 'http://proxy-2:3128', noProxy: ['10.77.0.0/24'] },
};

type Part = 'var' | 'etc';
const apply = (node: TestNode, b: BundleFixture) => node.applier(['apply', b.file, '--pub', b.pubFile]);

/** The old and new bundle, and the node an uninterrupted apply of both leaves (on a big disk). */
async function setup(): Promise<{ old: BundleFixture; new: BundleFixture; converged: Awaited<ReturnType<typeof nodeSnapshot>> }> {
  const keys = makeKeys();
  const dir = await testdir();
  const bundles = { old: await makeBundle({ dir, keys, ...OLD }), new: await makeBundle({ dir, keys, ...NEW }) };
  const reference = await makeNode();
  expect((await apply(reference, bundles.old)).exitCode).toBe(0);
  expect((await apply(reference, bundles.new)).exitCode).toBe(0);
  return { ...bundles, converged: await nodeSnapshot(reference) };
}

/** A node whose /var (or /etc) is a small tmpfs of its own (root mode as on the reference), converged to the old bundle. */
async function nodeWithSmallDisk(o: { part: Part; mode: string; old: BundleFixture }): Promise<{ node: TestNode; disk: string }> {
  const node = await makeNode();
  const disk = path.join(node.root, o.part);
  await mkdir(disk);
  await mountTmpfs(disk, 4 * 1024 * 1024);
  await chmod(disk, parseInt(o.mode.split(' ')[1]!, 8));
  const old = await apply(node, o.old);
  expect(old.exitCode, old.stderr).toBe(0);
  return { node, disk };
}

const treeOf = async (node: TestNode, part: string) => {
  const tree = await hashTree(node.root);
  delete tree[`${part}/${FILLER}`];
  return tree;
};

/** What preflight says the new bundle writes on the small file system. */
async function needOn(node: TestNode, b: BundleFixture, part: Part): Promise<number> {
  const plan = JSON.parse((await node.applier(['plan', b.file, '--pub', b.pubFile, '--json'])).stdout) as { steps: { disk?: DiskUse[] }[] };
  return plan.steps[0]!.disk!.find((d) => d.mount === `/${part}`)!.needBytes;
}

/*
 * /var and /etc as file systems of their own, smaller than the root's: preflight adds up what each
 * step writes on each file system and refuses before any change when one is too small. A disk can
 * still fill up mid-apply when something else writes to it after preflight; the second sweep does
 * that, at every step boundary, and the apply must still leave no half-written file and converge
 * on a re-run once the space is back.
 */
describe('apply on a small or full disk', () => {
  test.each(['var', 'etc'] as const)(
    "/%s too small for the bundle: refused up front with DISK_SPACE, nothing changed; with the estimate's space free it converges",
    async (part) => {
      const s = await setup();
      const mode = s.converged.tree[part]!;
      const figures = { estimateKiB: 0, writtenKiB: 0, refused: 0 };
      // No space, one page short of the estimate, then exactly the estimate.
      const probe = await nodeWithSmallDisk({ part, mode, old: s.old });
      const need = await needOn(probe.node, s.new, part);
      expect(need % PAGE).toBe(0);
      for (const leave of [0, need - PAGE, need]) {
        const { node, disk } = leave === 0 ? probe : await nodeWithSmallDisk({ part, mode, old: s.old });
        const filler = await fillTmpfs(disk, leave);
        const before = await treeOf(node, part);
        const calls = (await node.calls()).length;
        const r = await apply(node, s.new);
        if (leave < need) {
          figures.refused++;
          expect(r.exitCode, r.stderr).toBe(2);
          expect(r.stderr).toMatch(new RegExp(`^error\\[DISK_SPACE\\]: preflight: not enough space on /${part} \\(for /${part}/`));
          expect(r.stderr).toMatch(/\nhint: free .* nothing was changed\n?$/);
          expect(await treeOf(node, part)).toEqual(before);
          expect((await node.calls()).slice(calls).filter((c) => /^snap (ack|install)|^systemctl (daemon-reload|restart)/.test(c))).toEqual([]);
          continue;
        }
        expect(r.exitCode, r.stderr).toBe(0);
        figures.estimateKiB = need / 1024;
        figures.writtenKiB = (leave - (await freeBytes(disk))) / 1024;
        await rm(filler);
        expect(await nodeSnapshot(node)).toEqual(s.converged);
      }
      // The estimate covers what was written, and is not wildly above it.
      expect(figures.writtenKiB).toBeGreaterThan(0);
      expect(figures.writtenKiB).toBeLessThanOrEqual(figures.estimateKiB);
      await recordFigures(`applyDiskRefused_${part}`, figures);
    },
    600_000,
  );

  // Step boundaries after preflight passed: another writer takes the space there, leaving `leave` bytes.
  // Points this run passes (the node is a member already: no cluster step; nothing to prune).
  const POINTS = [
    'before:snaps',
    'before:containerd-hosts',
    'claimed:/etc/containerd/hosts.d/ghcr.io/hosts.toml',
    'before:proxy',
    'claimed:/etc/systemd/system/snap.k8s.containerd.service.d/http-proxy.conf',
    'before:images',
    'after:images',
    'after:restart',
  ];
  const LEAVE = [0, 2 * PAGE];
  test.each(['var', 'etc'] as const)(
    '/%s fills up after preflight (another writer): a clean error, no half-written file, and after freeing space a re-run converges',
    async (part) => {
      const s = await setup();
      const mode = s.converged.tree[part]!;
      const failed = new Set<string>();
      let runs = 0;
      let outOfSpace = 0;
      for (const point of POINTS) {
        for (const leave of LEAVE) {
          runs++;
          const { node, disk } = await nodeWithSmallDisk({ part, mode, old: s.old });
          const before = await treeOf(node, part);
          const resume = path.join(node.work, 'resume');
          const child = node.spawnApplier(['apply', s.new.file, '--pub', s.new.pubFile], { AIRGAP_TEST_PAUSE_AT: point, AIRGAP_TEST_RESUME_FILE: resume });
          await pausedAt(child, point);
          const filler = await fillTmpfs(disk, leave);
          await writeFile(resume, '');
          const r = await child;
          const err = String(r.stderr).replace(pausedLine(point), '');
          const after = await treeOf(node, part);
          if (r.exitCode !== 0) {
            outOfSpace++;
            // A clean error: exit 1, the step and the cause named, what to do, no stack trace.
            expect(r.exitCode, `${point}, ${leave} bytes left: ${err}`).toBe(1);
            // A step's error, or IO_FAILED when the state file cannot be written once every step is done.
            const m =
              /^error\[(?:STEP_FAILED\]: step ([a-z-]+) failed: .*ENOSPC.*|IO_FAILED\]: cannot write \/var\/lib\/airgap\/state\.json: .*ENOSPC.*)\nhint: \S.*$/.exec(
                err,
              );
            expect(m, err).not.toBeNull();
            failed.add(m![1] ?? 'state');
          }
          // Every path holds the old content or the whole new one; no temp file, no leftover scratch.
          for (const p of new Set([...Object.keys(before), ...Object.keys(after)])) {
            expect(p).not.toMatch(/\.tmp-|^var\/lib\/airgap\/tmp(\/|$)/);
            // A side-loaded image tar the snap's containerd has not loaded yet is whole: it is the
            // converged node's `*.tar.loaded` before containerd's restart renamed it.
            const settled = s.converged.tree[p] ?? (p.endsWith('.tar') ? s.converged.tree[`${p}.loaded`] : undefined);
            if (p !== STATE) expect([before[p], settled], `${p} after running out of space at ${point}, ${leave} bytes left`).toContain(after[p]);
          }
          // The state file is rewritten as the apply goes, so it holds neither; it is whole, though.
          expect(JSON.parse(await readFile(path.join(node.root, STATE), 'utf8'))).toMatchObject({ stateVersion: 1 });

          await rm(filler);
          if (r.exitCode !== 0) {
            const rerun = await apply(node, s.new);
            expect(rerun.stderr).toBe('');
            expect(rerun.exitCode).toBe(0);
          }
          expect(await nodeSnapshot(node)).toEqual(s.converged);
        }
      }
      // It ran out of space at least once, and every run converged in the end.
      expect(outOfSpace).toBeGreaterThan(0);
      await recordFigures(`applyDiskFull_${part}`, { runs, runsOutOfSpace: outOfSpace, stepsFailed: [...failed].join(',') });
    },
    1_800_000,
  );
});
