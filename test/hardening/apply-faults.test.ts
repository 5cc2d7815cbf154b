import { chmod, mkdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { hashTree, makeNode, nodeSnapshot, type TestNode } from '../applier/node-env.ts';
import { makeBundle, makeKeys, STANDARD_SNAPS, type BundleFixture, type BundleFixtureOptions } from '../support/bundle-fixture.ts';
import { testdir } from '../support/tmpdir.ts';
import { FILLER, fillTmpfs, mountTmpfs } from '../support/tmpfs.ts';
import { recordFigures } from './report.ts';

const PAGE = 4096;
const STATE = 'var/lib/airgap/state.json';

/** What the node converged to before the disk filled up. */
const OLD: Omit<BundleFixtureOptions, 'dir'> = {
  out: 'old.tar',
  hosts: { 'docker.io/hosts.toml': 'server = "https://registry-1.docker.io"\n', 'quay.io/hosts.toml': 'server = "https://quay.io"\n' },
  images: [{ ref: 'docker.io/library/hello:1.0', files: { 'hello.txt': 'hello\n' } }],
  proxy: { http: 'http://proxy:3128', noProxy: [] },
  bootstrap: 'cluster-config:\n  network:\n    enabled: true\n',
};

/** The bundle applied on the full disk: every step that writes has something to write (or remove). */
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

interface Sweep {
  /** The node folder on its own small file system. */
  part: 'var' | 'etc';
  failures: number;
  stepsFailed: Set<string>;
  pagesToConverge: number;
}

/** A node whose /var (or /etc) is a small tmpfs (its root with `mode`), converged to the old bundle. */
async function nodeWithSmallDisk(o: { part: Sweep['part']; mode: number; old: BundleFixture }): Promise<{ node: TestNode; disk: string }> {
  const node = await makeNode();
  const disk = path.join(node.root, o.part);
  await mkdir(disk);
  await mountTmpfs(disk, 4 * 1024 * 1024);
  await chmod(disk, o.mode);
  const old = await node.applier(['apply', o.old.file, '--pub', o.old.pubFile]);
  expect(old.exitCode).toBe(0);
  return { node, disk };
}

const treeOf = async (node: TestNode, part: string) => {
  const tree = await hashTree(node.root);
  delete tree[`${part}/${FILLER}`];
  return tree;
};

/*
 * Why /var and /etc and not the whole root on a tmpfs: preflight compares the root's free space
 * with the bundle's size and refuses to start, so a full root never gets mid-apply. A node whose
 * /var or /etc is a file system of its own passes preflight and can fill up half-way.
 */
describe('apply on a full disk', () => {
  // Free pages are added one at a time, from none to enough: each run of the sweep runs out of
  // space at another point of the apply (a snap, the state file, a hosts.toml, a streamed image).
  test.each(['var', 'etc'] as const)(
    '/%s fills up mid-apply: a clean error, no half-written file, and after freeing space a re-run converges',
    async (part) => {
      const keys = makeKeys();
      const dir = await testdir();
      const bundles = { old: await makeBundle({ dir, keys, ...OLD }), new: await makeBundle({ dir, keys, ...NEW }) };
      const apply = (node: TestNode, b: BundleFixture) => node.applier(['apply', b.file, '--pub', b.pubFile]);

      const reference = await makeNode();
      expect((await apply(reference, bundles.old)).exitCode).toBe(0);
      expect((await apply(reference, bundles.new)).exitCode).toBe(0);
      const converged = await nodeSnapshot(reference);

      const sweep: Sweep = { part, failures: 0, stepsFailed: new Set(), pagesToConverge: -1 };
      for (let pages = 0; pages <= 64 && sweep.pagesToConverge < 0; pages++) {
        // The folder's mode as the applier makes it on an empty root, so that the trees compare.
        const { node, disk } = await nodeWithSmallDisk({ part, mode: parseInt(converged.tree[part]!.split(' ')[1]!, 8), old: bundles.old });
        const filler = await fillTmpfs(disk, pages * PAGE);
        const before = await treeOf(node, part);
        const r = await apply(node, bundles.new);
        const after = await treeOf(node, part);
        if (r.exitCode === 0) {
          sweep.pagesToConverge = pages;
          await rm(filler);
          expect(await nodeSnapshot(node)).toEqual(converged);
          break;
        }
        sweep.failures++;
        // A clean error: exit 1, the step and the cause named, what to do, no stack trace.
        expect(r.exitCode, `${pages} pages free: ${r.stderr}`).toBe(1);
        // A step's error, or IO_FAILED when the state file cannot be written once every step is done.
        const m =
          /^error\[(?:STEP_FAILED\]: step ([a-z-]+) failed: .*ENOSPC.*|IO_FAILED\]: cannot write \/var\/lib\/airgap\/state\.json: .*ENOSPC.*)\nhint: \S.*$/.exec(
            r.stderr,
          );
        expect(m, r.stderr).not.toBeNull();
        sweep.stepsFailed.add(m![1] ?? 'state');
        // Every path holds the old content or the whole new one; no temp file, no leftover scratch.
        for (const p of new Set([...Object.keys(before), ...Object.keys(after)])) {
          expect(p).not.toMatch(/\.tmp-|^var\/lib\/airgap\/tmp(\/|$)/);
          // A side-loaded image tar the snap's containerd has not loaded yet is whole: it is the
          // converged node's `*.tar.loaded` before containerd's restart renamed it.
          const settled = converged.tree[p] ?? (p.endsWith('.tar') ? converged.tree[`${p}.loaded`] : undefined);
          if (p !== STATE) expect([before[p], settled], `${p} after running out of space with ${pages} pages free`).toContain(after[p]);
        }
        // The state file is rewritten as the apply goes, so it holds neither; it is whole, though.
        expect(JSON.parse(await readFile(path.join(node.root, STATE), 'utf8'))).toMatchObject({ stateVersion: 1 });

        await rm(filler);
        const rerun = await apply(node, bundles.new);
        expect(rerun.stderr).toBe('');
        expect(rerun.exitCode).toBe(0);
        expect(await nodeSnapshot(node)).toEqual(converged);
      }
      // It ran out of space at least once, and converged in the end.
      expect(sweep.pagesToConverge).toBeGreaterThan(0);
      await recordFigures(`applyDiskFull_${part}`, {
        runsOutOfSpace: sweep.failures,
        stepsFailed: [...sweep.stepsFailed].join(','),
        freeKiBToConverge: (sweep.pagesToConverge * PAGE) / 1024,
      });
    },
    600_000,
  );
});
