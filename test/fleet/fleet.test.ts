import { mkdir, readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { describe, expect, test } from 'vitest';
import { exists, makeBundle, makeKeys, STANDARD_SNAPS } from '../support/bundle-fixture.ts';
import { testdir } from '../support/tmpdir.ts';
import { makeFleetNode, runPlaybook, writeApplierWrapper, writeInventory, type FleetNode } from './fleet-env.ts';
import { block, createFleetNet, holdPort, processesIn } from './fleet-net.ts';

// Simulated nodes and why (local connection, a network namespace each, UTS namespaces): fleet-env.ts.

interface Token {
  name: string;
  worker: boolean;
  used: boolean;
  issuer: string;
}

const tokens = async (work: string) => JSON.parse(await readFile(path.join(work, 'cluster/tokens.json'), 'utf8')) as Record<string, Token>;
const k8sCalls = async (node: FleetNode, verb: string) => (await node.calls()).filter((c) => c.startsWith(`k8s ${verb}`));

async function nodeStatus(node: FleetNode, applier: string) {
  const r = await execa(applier, ['status', '--root', node.root, '--json'], { env: node.env });
  return JSON.parse(String(r.stdout)) as { nodeName: string; member: boolean; ready: boolean; bundleDigest: string | null };
}

/** The preflight's stand-in listeners still running on the nodes: none once a play has ended. */
const standins = async (nodes: FleetNode[]) => (await Promise.all(nodes.map(processesIn))).flat().filter((c) => c.includes('port-check.py'));

async function fleet(groups: FleetNode['group'][]) {
  const work = await testdir();
  const net = await createFleetNet();
  const nodes = await Promise.all(groups.map((group, i) => makeFleetNode(work, { index: i + 1, group, net })));
  const keys = makeKeys();
  const bundle = await makeBundle({ dir: work, keys, bootstrap: true });
  const files = { bundle: bundle.file, pub: bundle.pubFile, applier: await writeApplierWrapper(work) };
  return { work, net, nodes, files, keys };
}

describe('examples/ansible on three simulated nodes', () => {
  test('bootstraps node 1 once, joins nodes 2-3 once each with node 1 tokens, all Ready; a second run changes nothing; a 4th node joins alone; a newer bundle rolls out in batches', async () => {
    const { work, net, nodes, files, keys } = await fleet(['control_plane', 'control_plane', 'workers']);
    const [n1, n2, n3] = nodes as [FleetNode, FleetNode, FleetNode];
    // New nodes listen on no k8s port: the preflight's stand-ins answer for them. On node2 another
    // program already holds 6443 (as on a node that runs k8s): probed as it is, left running.
    const held = await holdPort(n2, 6443);
    const inventory = await writeInventory(work, nodes, files);

    const first = await runPlaybook(work, inventory);
    expect(first.stdout).not.toContain('fatal:');
    expect(first.exitCode).toBe(0);
    for (const n of nodes) expect(first.recap[n.name]).toMatchObject({ failed: 0, unreachable: 0 });
    expect(first.recap.node1?.changed).toBeGreaterThan(0);
    expect(held.peers()).toEqual([n1.address, n3.address]);
    expect(held.alive()).toBe(true);
    expect(await standins(nodes)).toEqual([]);

    expect(await k8sCalls(n1, 'bootstrap')).toHaveLength(1);
    expect(await k8sCalls(n1, 'get-join-token')).toEqual(['k8s get-join-token node2', 'k8s get-join-token node3 --worker']);
    const issued = await tokens(work);
    for (const n of [n2, n3]) {
      expect(await k8sCalls(n, 'bootstrap')).toEqual([]);
      const joins = await k8sCalls(n, 'join-cluster');
      expect(joins).toHaveLength(1);
      const token = joins[0]!.split(' ')[2]!;
      expect(issued[token]).toEqual({ name: n.name, worker: n === n3, used: true, issuer: 'node1' });
    }
    for (const n of nodes) {
      const s = await nodeStatus(n, files.applier);
      expect(s).toMatchObject({ nodeName: n.name, member: true, ready: true });
      expect(s.bundleDigest).toMatch(/^sha256:[a-f0-9]{64}$/);
      // The sha256-checked copies are where the role staged them.
      expect(await exists(path.join(n.root, 'var/cache/airgap/bundle.tar'))).toBe(true);
    }

    const before = await Promise.all(nodes.map((n) => n.calls()));
    const second = await runPlaybook(work, inventory);
    expect(second.exitCode).toBe(0);
    expect(Object.keys(second.recap).sort()).toEqual(['node1', 'node2', 'node3']);
    for (const n of nodes) expect(second.recap[n.name]).toMatchObject({ changed: 0, failed: 0, unreachable: 0 });
    expect(await standins(nodes)).toEqual([]);
    const cluster = (calls: string[]) => calls.filter((c) => /^k8s (bootstrap|join-cluster|get-join-token)/.test(c));
    for (const [i, n] of nodes.entries()) expect(cluster(await n.calls())).toEqual(cluster(before[i]!));

    // A fourth node in the inventory: it joins, nothing else changes.
    const n4 = await makeFleetNode(work, { index: 4, group: 'workers', net });
    const grown = [...nodes, n4];
    const third = await runPlaybook(work, await writeInventory(work, grown, files));
    expect(third.exitCode).toBe(0);
    for (const n of nodes) expect(third.recap[n.name]).toMatchObject({ changed: 0, failed: 0 });
    expect(third.recap.node4?.changed).toBeGreaterThan(0);
    expect(await k8sCalls(n1, 'get-join-token')).toEqual(['k8s get-join-token node2', 'k8s get-join-token node3 --worker', 'k8s get-join-token node4 --worker']);
    expect(await k8sCalls(n4, 'join-cluster')).toHaveLength(1);
    expect(await k8sCalls(n4, 'bootstrap')).toEqual([]);
    for (const [i, n] of nodes.entries()) expect(cluster(await n.calls())).toEqual([...cluster(before[i]!), ...(n === n1 ? ['k8s get-join-token node4 --worker'] : [])]);
    expect(await nodeStatus(n4, files.applier)).toMatchObject({ nodeName: 'node4', member: true, ready: true });
    // Default airgap_serial=1: the two workers in two batches.
    expect(third.stdout.match(/PLAY \[Join or upgrade the workers/g)).toHaveLength(2);

    // A newer bundle (k8s revision 3002), both workers in one batch: every node refreshes k8s once,
    // nobody bootstraps or joins again.
    const snaps = STANDARD_SNAPS.map((s) => (s.name === 'k8s' ? { ...s, revision: 3002 } : s));
    const newer = await makeBundle({ dir: work, out: 'bundle-2.tar', keys, snaps, bootstrap: true });
    const beforeUpgrade = await Promise.all(grown.map((n) => n.calls()));
    const firstDigest = (await nodeStatus(n1, files.applier)).bundleDigest;
    const digests = new Set<string | null>();
    const upgrade = await runPlaybook(work, await writeInventory(work, grown, { ...files, bundle: newer.file }), ['-e', 'airgap_serial=2']);
    expect(upgrade.exitCode).toBe(0);
    expect(upgrade.stdout.match(/PLAY \[Join or upgrade the workers/g)).toHaveLength(1);
    for (const [i, n] of grown.entries()) {
      expect(upgrade.recap[n.name]).toMatchObject({ failed: 0 });
      expect(upgrade.recap[n.name]?.changed).toBeGreaterThan(0);
      const added = (await n.calls()).slice(beforeUpgrade[i]!.length);
      expect(added.filter((c) => c.startsWith('snap install') && c.includes('k8s_3002'))).toHaveLength(1);
      expect(cluster(added)).toEqual([]);
      digests.add((await nodeStatus(n, files.applier)).bundleDigest);
    }
    expect(digests.size).toBe(1);
    expect(digests.has(firstDigest)).toBe(false);
  }, 600_000);

  test('the port preflight names every src -> dst:port that a firewall rejects or drops and changes nothing', async () => {
    const { work, nodes, files } = await fleet(['control_plane', 'control_plane', 'workers']);
    const [, n2, n3] = nodes as [FleetNode, FleetNode, FleetNode];
    await block(n2, { port: 2380, how: 'reject' }); // etcd peer port, from anyone: only node1 probes it
    await block(n3, { port: 10250, from: n2, how: 'drop' }); // kubelet, from node2 only
    const run = await runPlaybook(work, await writeInventory(work, nodes, files));

    expect(run.exitCode).not.toBe(0);
    expect(run.stdout).toContain('2 node-to-node connection(s) failed');
    expect(run.stdout).toContain(`node1 -> node2:2380 (${n2.address}: connection refused)`);
    expect(run.stdout).toContain(`node2 -> node3:10250 (${n3.address}: no answer in 2s)`);
    expect(run.stdout).not.toContain('node3 -> node2:2380');
    expect(run.stdout).not.toContain('node1 -> node3:10250');
    expect(run.stdout.match(/node-to-node connection\(s\) failed/g)).toHaveLength(1);
    expect(run.stdout).not.toContain('PLAY [Ship bundle');
    expect(await standins(nodes)).toEqual([]);
    // The script copies (ansible.builtin.script) are gone from the nodes' temp folder too.
    expect(await readdir(path.join(work, 'ansible-tmp/remote'))).toEqual([]);
    for (const n of nodes) {
      expect(run.recap[n.name]?.changed).toBe(0);
      expect(await n.calls()).toEqual([]);
      expect(await exists(path.join(n.root, 'var'))).toBe(false);
    }
  }, 300_000);

  test('a node the preflight fails on (its address does not resolve) stops the play before any change, and the stand-ins of the others stop', async () => {
    const { work, nodes, files } = await fleet(['control_plane', 'control_plane', 'workers']);
    const n3 = nodes[2]!;
    const run = await runPlaybook(work, await writeInventory(work, [...nodes.slice(0, 2), { ...n3, address: 'node3.invalid' }], files));

    expect(run.exitCode).not.toBe(0);
    expect(run.stdout).toMatch(/cannot listen on node3\.invalid:6443/);
    // node1 and node2 started their stand-ins and probed; any_errors_fatal alone would let them go on.
    expect(run.recap.node3).toMatchObject({ failed: 1, changed: 0 });
    expect(run.stdout).toContain('The port preflight failed on node3 (see above); nothing was changed.');
    expect(run.stdout).not.toContain('PLAY [Ship bundle');
    expect(await standins(nodes)).toEqual([]);
    for (const n of nodes) {
      expect(await n.calls()).toEqual([]);
      expect(await exists(path.join(n.root, 'var'))).toBe(false);
    }
  }, 300_000);

  test('a failed join names the node and the cause, never prints the token, and the others still converge', async () => {
    const { work, nodes, files } = await fleet(['control_plane', 'workers', 'workers']);
    const n3 = nodes[2]!;
    // Another container runtime owns /run/containerd: the applier refuses before joining.
    await mkdir(path.join(n3.root, 'run/containerd'), { recursive: true });
    const run = await runPlaybook(work, await writeInventory(work, nodes, files));

    expect(run.exitCode).not.toBe(0);
    expect(run.stdout).toMatch(/applier apply --join-token failed on node3 \(exit 1\): .*\/run\/containerd/);
    const [token] = Object.entries(await tokens(work)).find(([, t]) => t.name === 'node3')!;
    expect(run.stdout).not.toContain(token);
    expect(await k8sCalls(n3, 'join-cluster')).toEqual([]);
    expect(run.recap.node2).toMatchObject({ failed: 0 });
    expect(await k8sCalls(nodes[1]!, 'join-cluster')).toHaveLength(1);
  }, 300_000);
});
