import { afterAll, describe, expect, test } from 'vitest';
import { recordFigures } from '../hardening/report.ts';
import { seededRandom } from '../hardening/random.ts';
import { makeBundle, makeKeys, type BundleFixtureOptions } from '../support/bundle-fixture.ts';
import { pausedAt } from '../support/pause-at.ts';
import { makeNode, nodeSnapshot as snapshot, type TestNode } from './node-env.ts';

const OPTIONS: Omit<BundleFixtureOptions, 'dir'> = {
  hosts: { 'docker.io/hosts.toml': 'server = "https://registry-1.docker.io"\n', 'quay.io/hosts.toml': 'server = "https://quay.io"\n' },
  images: [
    { ref: 'docker.io/library/hello:1.0', files: { 'hello.txt': 'hello\n' } },
    { ref: 'ghcr.io/canonical/k8s-snap/pause:3.10', files: { 'pause.txt': 'pause\n' } },
  ],
  proxy: { http: 'http://proxy:3128', noProxy: [] },
  bootstrap: 'cluster-config:\n  network:\n    enabled: true\n',
};

/** A node converged by one uninterrupted apply (and how long that took), and a fresh node with the same bundle, to be killed. */
async function referenceAndNode() {
  const keys = makeKeys();
  const reference = await makeNode();
  const ref = await makeBundle({ dir: reference.work, keys, ...OPTIONS });
  const started = Date.now();
  expect((await reference.applier(['apply', ref.file, '--pub', ref.pubFile])).exitCode).toBe(0);
  const duration = Date.now() - started;
  const node = await makeNode();
  const b = await makeBundle({ dir: node.work, keys, ...OPTIONS });
  return { reference, node, b, duration };
}

/** Re-run apply on the killed node: it succeeds, ends as the reference did, bootstraps once; its calls, for more checks. */
async function rerunConvergesLike(reference: TestNode, node: TestNode, b: { file: string; pubFile: string }): Promise<string[]> {
  const rerun = await node.applier(['apply', b.file, '--pub', b.pubFile]);
  expect(rerun.stderr).toBe('');
  expect(rerun.exitCode).toBe(0);
  expect(await snapshot(node)).toEqual(await snapshot(reference));
  const calls = await node.calls();
  expect(calls.filter((c) => c.startsWith('k8s bootstrap'))).toHaveLength(1);
  return calls;
}

/** Apply, paused at `point` (AIRGAP_TEST_PAUSE_AT), then SIGKILLed there. */
async function killAt(node: TestNode, b: { file: string; pubFile: string }, point: string) {
  const child = node.spawnApplier(['apply', b.file, '--pub', b.pubFile], { AIRGAP_TEST_PAUSE_AT: point });
  await pausedAt(child, point);
  child.kill('SIGKILL');
  return child;
}

const BOUNDARIES = [
  'before:snaps',
  'after:snaps',
  'claimed:/etc/containerd/hosts.d/quay.io/hosts.toml',
  'before:proxy',
  'claimed:/etc/systemd/system/snap.k8s.containerd.service.d/http-proxy.conf',
  'after:proxy',
  'after:images',
  'before:restart',
  'before:cluster',
  'cluster:done',
];

describe('killed mid-apply, then re-run', () => {
  test.each(BOUNDARIES)('SIGKILL at %s: the re-run converges to the same state as an uninterrupted run', async (point) => {
    const { reference, node, b } = await referenceAndNode();
    const killed = await killAt(node, b, point);
    expect(killed.signal).toBe('SIGKILL');

    const calls = await rerunConvergesLike(reference, node, b);
    // A new node: containerd first starts at the bootstrap, with the drop-in in place; nothing
    // ever restarts it (and never all of k8s), whatever the kill point.
    expect(calls.filter((c) => c.includes('restart'))).toEqual([]);
    const third = await node.applier(['apply', b.file, '--pub', b.pubFile]);
    expect(third.stdout).toContain('converged: nothing changed');
  });
});

describe('killed at seeded random moments, then re-run', () => {
  const rand = seededRandom(20261126);
  const moments = Array.from({ length: 6 }, () => 0.05 + rand() * 0.9);
  const outcomes: string[] = [];
  // Only a run that tried every moment (not a filtered one) reports figures.
  afterAll(
    async () =>
      outcomes.length === moments.length &&
      (await recordFigures('crashes', {
        stepBoundaryPoints: BOUNDARIES.length,
        randomMoments: moments.length,
        killedMidRun: outcomes.filter((o) => o === 'killed').length,
        finishedBeforeKill: outcomes.filter((o) => o === 'finished').length,
      })),
  );

  test.each(moments.map((m) => [m.toFixed(3)]))('SIGKILL at %s of an uninterrupted run: the re-run converges to the same state', async (fraction) => {
    const { reference, node, b, duration } = await referenceAndNode();
    const child = node.spawnApplier(['apply', b.file, '--pub', b.pubFile], {});
    const timer = setTimeout(() => child.kill('SIGKILL'), Math.round(Number(fraction) * duration));
    const ended = await child;
    clearTimeout(timer);
    outcomes.push(ended.signal === 'SIGKILL' ? 'killed' : 'finished');

    const calls = await rerunConvergesLike(reference, node, b);
    // A new node: containerd first starts at the bootstrap, after the drop-in was written.
    expect(calls.filter((c) => c.includes('restart'))).toEqual([]);
  });
});

describe('a member node whose proxy changes, killed around the containerd restart', () => {
  test.each(['after:proxy', 'before:restart', 'after:restart'])(
    'SIGKILL at %s: containerd restarts exactly once over both runs, and nothing else restarts',
    async (point) => {
      const keys = makeKeys();
      const node = await makeNode();
      const first = await makeBundle({ dir: node.work, out: 'first.tar', keys, ...OPTIONS });
      expect((await node.applier(['apply', first.file, '--pub', first.pubFile])).exitCode).toBe(0);
      const b = await makeBundle({ dir: node.work, out: 'proxy2.tar', keys, ...OPTIONS, proxy: { http: 'http://proxy2:3128', noProxy: [] } });
      await killAt(node, b, point);
      const rerun = await node.applier(['apply', b.file, '--pub', b.pubFile]);
      expect(rerun.stderr).toBe('');
      expect(rerun.exitCode).toBe(0);
      // Kill points between steps: the state says exactly whether the restart is still owed.
      expect((await node.calls()).filter((c) => c.includes('restart'))).toEqual(['systemctl restart snap.k8s.containerd.service']);
      expect((await node.applier(['apply', b.file, '--pub', b.pubFile])).stdout).toContain('converged: nothing changed');
    },
  );
});
