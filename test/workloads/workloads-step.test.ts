import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { describe, expect, test } from 'vitest';
import type { BundleWorkloads } from '@airgap/core';
import { makeBundle, makeKeys, type FixtureKeys } from '../support/bundle-fixture.ts';
import { testdir } from '../support/tmpdir.ts';
import { makeNode, type TestNode } from '../applier/node-env.ts';

const BOOTSTRAP = 'cluster-config:\n  network:\n    enabled: true\n';
const sha = (b: Uint8Array | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const calls = async (node: TestNode, re: RegExp) => (await node.calls()).filter((c) => re.test(c));

/** A chart archive as helm package lays it out: web/Chart.yaml, web/templates/…, gzipped. */
async function chartTgz(version: string): Promise<Buffer> {
  const dir = await testdir({
    'web/Chart.yaml': `apiVersion: v2\nname: web\nversion: ${version}\n`,
    'web/values.yaml': 'replicas: 1\n',
    'web/templates/cm.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: web}\n',
  });
  // Same bytes every time (no file times, no gzip name or time): the same chart in every bundle.
  await execa('sh', ['-c', 'tar --mtime=@0 --sort=name --owner=0 --group=0 -cf - web | gzip -n > web.tgz'], { cwd: dir });
  return readFile(path.join(dir, 'web.tgz'));
}

const MANIFEST =
  'apiVersion: v1\nkind: Namespace\nmetadata: {name: tools}\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: main, namespace: tools}\nspec: {}\n';

/** A bundle with one chart (release web in namespace web) and one manifest file, as the bundler writes them. */
async function workloadsBundle(o: {
  dir: string;
  keys: FixtureKeys;
  values: string;
  out?: string;
  namespace?: string;
  createNamespace?: boolean;
  sequence?: number;
}) {
  const tgz = await chartTgz('1.0.0');
  const valuesDigest = sha(Buffer.concat([Buffer.from(`${Buffer.byteLength(o.values)}\n`), Buffer.from(o.values)]));
  const manifest: BundleWorkloads = {
    charts: [
      {
        name: 'web',
        version: '1.0.0',
        digest: sha(tgz),
        path: 'workloads/charts/web-1.0.0.tgz',
        values: ['workloads/values/web/0.yaml'],
        valuesDigest,
        namespace: o.namespace ?? 'web',
        createNamespace: o.createNamespace ?? true,
      },
    ],
    manifests: ['workloads/manifests/000-app.yaml'],
  };
  const files = { 'workloads/charts/web-1.0.0.tgz': tgz, 'workloads/values/web/0.yaml': o.values, 'workloads/manifests/000-app.yaml': MANIFEST };
  return {
    tgz,
    ...(await makeBundle({
      dir: o.dir,
      keys: o.keys,
      bootstrap: BOOTSTRAP,
      out: o.out ?? 'bundle.tar',
      workloads: { manifest, files },
      ...(o.sequence ? { sequence: o.sequence } : {}),
    })),
  };
}

describe('workloads step: k8s helm upgrade --install and kubectl apply --server-side from the control plane that bootstrapped', () => {
  test('installs the chart file from the bundle after Ready, applies the manifests; a re-run calls nothing; changed values upgrade', async () => {
    const keys = makeKeys();
    const cp = await makeNode({ hostname: 'cp-1', release: '1.32' });
    const b = await workloadsBundle({ dir: cp.work, keys, values: 'replicas: 2\n' });
    const plan = await cp.applier(['plan', b.file, '--pub', b.pubFile]);
    expect(plan.stdout).toMatch(/^change +workloads/m);
    expect(plan.stdout).toContain('helm upgrade --install web/web (1.0.0)');
    const r = await cp.applier(['apply', b.file, '--pub', b.pubFile]);
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
    const chart = path.join(cp.root, 'var/lib/airgap/workloads/charts/web-1.0.0.tgz');
    const values = path.join(cp.root, 'var/lib/airgap/workloads/values/web/0.yaml');
    const manifest = path.join(cp.root, 'var/lib/airgap/workloads/manifests/000-app.yaml');
    const all = await cp.calls();
    const helmCalls = all.filter((c) => c.startsWith('k8s helm upgrade'));
    expect(helmCalls).toEqual([`k8s helm upgrade --install web ${chart} -f ${values} --namespace web --create-namespace`]);
    expect(await calls(cp, /^k8s kubectl apply/)).toEqual([`k8s kubectl apply --server-side -f ${manifest}`]);
    // After the bootstrap and the Ready wait, never before.
    expect(all.findIndex((c) => c.startsWith('k8s bootstrap'))).toBeLessThan(all.indexOf(helmCalls[0]!));
    expect(all.findLastIndex((c) => c.startsWith('k8s kubectl get node'))).toBeLessThan(all.indexOf(helmCalls[0]!));
    // The very chart of the bundle is what helm got.
    expect(sha(await readFile(chart))).toBe(sha(b.tgz));
    const list = JSON.parse((await cp.k8s(['helm', 'list', '-A', '-o', 'json'])).stdout) as {
      name: string;
      namespace: string;
      status: string;
      revision: string;
    }[];
    expect(list).toEqual([expect.objectContaining({ name: 'web', namespace: 'web', status: 'deployed', revision: '1', chart: 'web-1.0.0' })]);

    const again = await cp.applier(['apply', b.file, '--pub', b.pubFile]);
    expect(again.exitCode).toBe(0);
    expect(again.stdout).toMatch(/^ok +workloads/m);
    expect(await calls(cp, /^k8s (helm upgrade|kubectl apply)/)).toHaveLength(2);

    // The same chart with another values file: one upgrade, the manifests stay applied.
    const changed = await workloadsBundle({ dir: cp.work, keys, values: 'replicas: 3\n', out: 'bundle2.tar', sequence: 2 });
    const p2 = await cp.applier(['plan', changed.file, '--pub', changed.pubFile]);
    expect(p2.stdout).toContain('its values changed');
    const up = await cp.applier(['apply', changed.file, '--pub', changed.pubFile]);
    expect(up.stderr).toBe('');
    expect(up.exitCode).toBe(0);
    expect(await calls(cp, /^k8s helm upgrade/)).toHaveLength(2);
    expect(await calls(cp, /^k8s kubectl apply/)).toHaveLength(1);
    expect(await readFile(values, 'utf8')).toBe('replicas: 3\n');
    const list2 = JSON.parse((await cp.k8s(['helm', 'list', '-A', '-o', 'json'])).stdout) as { revision: string }[];
    expect(list2[0]?.revision).toBe('2');
  });

  test('never on a worker: a joining node skips the step, --workloads there is refused before any k8s helm call; the Ansible order (--no-workloads, then --workloads once all joined)', async () => {
    const keys = makeKeys();
    const cp = await makeNode({ hostname: 'cp-1', release: '1.32' });
    const b = await workloadsBundle({ dir: cp.work, keys, values: 'replicas: 2\n' });
    const boot = await cp.applier(['apply', b.file, '--pub', b.pubFile, '--no-workloads']);
    expect(boot.exitCode).toBe(0);
    expect(boot.stdout).toMatch(/^skip +workloads +--no-workloads: a later run deploys them/m);
    expect(await calls(cp, /^k8s helm/)).toEqual([]);
    const worker = await makeNode({ clusterDir: cp.env.FAKE_CLUSTER_DIR, hostname: 'worker-1', release: '1.32' });
    const wb = await workloadsBundle({ dir: worker.work, keys, values: 'replicas: 2\n' });
    const token = (await cp.k8s(['get-join-token', '--worker'])).stdout.trim();
    const joined = await worker.applier(['apply', wb.file, '--pub', wb.pubFile], { AIRGAP_JOIN_TOKEN: token });
    expect(joined.stderr).toBe('');
    expect(joined.exitCode).toBe(0);
    expect(joined.stdout).toMatch(/^skip +workloads +deployed from the node that bootstrapped the cluster, or the one given --workloads/m);
    const forced = await worker.applier(['apply', wb.file, '--pub', wb.pubFile, '--workloads']);
    expect(forced.exitCode).not.toBe(0);
    expect(forced.stderr).toContain('error[NODE_INVALID]');
    expect(forced.stderr).toContain('worker-1 is a worker node: k8s refuses helm there');
    expect(await calls(worker, /^k8s (helm|kubectl apply)/)).toEqual([]);
    // Every node joined: the first control plane deploys them.
    const deploy = await cp.applier(['apply', b.file, '--pub', b.pubFile, '--workloads']);
    expect(deploy.stderr).toBe('');
    expect(deploy.exitCode).toBe(0);
    expect(await calls(cp, /^k8s helm upgrade --install web /)).toHaveLength(1);
    // The contract row itself: k8s helm on this worker is refused by the fake as by k8s.
    const refused = await worker.k8s(['helm', 'list']);
    expect(refused.exitCode).toBe(1);
    expect(refused.stderr).toContain('Error: k8s helm commands are not allowed on worker nodes.');
  });

  test("a failed install names the chart and helm's message; the run fails and nothing is recorded as installed", async () => {
    const cp = await makeNode({ hostname: 'cp-1', release: '1.32' });
    const b = await workloadsBundle({ dir: cp.work, keys: makeKeys(), values: 'a: 1\n', namespace: 'missing', createNamespace: false });
    const r = await cp.applier(['apply', b.file, '--pub', b.pubFile]);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(
      /error\[STEP_FAILED\]: chart web: helm upgrade --install failed \(exit 1\): Error: create: failed to create: namespaces "missing" not found/,
    );
    const state = JSON.parse(await readFile(path.join(cp.root, 'var/lib/airgap/state.json'), 'utf8')) as { workloads?: unknown };
    expect(state.workloads).toBeUndefined();
  });
});
