import { mkdir, readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { describe, expect, test } from 'vitest';
import { exists, makeBundle, makeKeys, STANDARD_SNAPS, type BundleFixtureOptions } from '../support/bundle-fixture.ts';
import { testdir } from '../support/tmpdir.ts';
import { FAKE_K8S, makeFleetNode, runPlaybook, writeApplierWrapper, writeInventory, type FleetNode, type FleetNodeOptions } from './fleet-env.ts';
import { block, createFleetNet, holdPort, processesIn } from './fleet-net.ts';

// Simulated nodes and why (local connection, a network namespace each, UTS namespaces): fleet-env.ts.

interface Token {
  name: string;
  worker: boolean;
  used: boolean;
}

interface NodeStatus {
  nodeName: string;
  member: boolean;
  role: 'control-plane' | 'worker' | null;
  ready: boolean;
  readyCheck: string;
  bundleDigest: string | null;
}

const tokens = async (work: string) => JSON.parse(await readFile(path.join(work, 'cluster/tokens.json'), 'utf8')) as Record<string, Token>;
const k8sCalls = async (node: FleetNode, verb: string) => (await node.calls()).filter((c) => c.startsWith(`k8s ${verb}`));
/** The calls that change cluster membership or hand out its tokens. */
const clusterCalls = (calls: string[]) => calls.filter((c) => /^k8s (bootstrap|join-cluster|get-join-token)/.test(c));
/** The node's name in k8s: its hostname, cleaned (lowercased) as k8s does. */
const k8sName = (n: FleetNode) => n.hostname.toLowerCase();

/** `applier status --json` as the node runs it: in its network namespace (kubelet's healthz is on its 127.0.0.1). */
async function nodeStatus(node: FleetNode, applier: string): Promise<NodeStatus> {
  const r = await execa('ip', ['netns', 'exec', node.netns, applier, 'status', '--root', node.root, '--k8s', FAKE_K8S, '--json'], { env: node.env });
  return JSON.parse(String(r.stdout)) as NodeStatus;
}

/** The preflight's stand-in listeners still running on the nodes: none once a play has ended. */
const standins = async (nodes: FleetNode[]) => (await Promise.all(nodes.map(processesIn))).flat().filter((c) => c.includes('port-check.py'));

type NodeSpec = Pick<FleetNodeOptions, 'group' | 'hostname'>;

async function fleet(specs: NodeSpec[], release = '1.32', bundleOptions: Partial<BundleFixtureOptions> = {}) {
  const work = await testdir();
  const net = await createFleetNet();
  const nodes = await Promise.all(specs.map((s, i) => makeFleetNode(work, { ...s, index: i + 1, net, release })));
  const keys = makeKeys();
  const bundle = await makeBundle({ dir: work, keys, bootstrap: true, release, ...bundleOptions });
  const files = { bundle: bundle.file, pub: bundle.pubFile, applier: await writeApplierWrapper(work) };
  return { work, net, nodes, files, keys };
}

const cp = (hostname?: string): NodeSpec => ({ group: 'control_plane', hostname });
const worker = (hostname?: string): NodeSpec => ({ group: 'workers', hostname });

describe.each(['1.32', '1.36'])('examples/ansible, k8s %s: one control plane, two workers', (release) => {
  test(`k8s ${release}: bootstraps node1 once, joins the workers (one named Worker-B) once each by their k8s names, all Ready from the control plane; a second run changes nothing; a third worker joins alone; a newer bundle rolls out`, async () => {
    const { work, net, nodes, files, keys } = await fleet([cp(), worker(), worker('Worker-B')], release);
    const [n1, n2, n3] = nodes as [FleetNode, FleetNode, FleetNode];
    const inventory = await writeInventory(work, nodes, files);

    const first = await runPlaybook(work, inventory);
    expect(first.stdout).not.toContain('fatal:');
    expect(first.exitCode).toBe(0);
    for (const n of nodes) expect(first.recap[n.name]).toMatchObject({ failed: 0, unreachable: 0 });
    expect(first.recap.node1?.changed).toBeGreaterThan(0);
    expect(await standins(nodes)).toEqual([]);

    // Each node bootstraps or joins with its inventory address; tokens are asked for by the name
    // k8s gives the node (worker-b, not Worker-B).
    expect(await k8sCalls(n1, 'bootstrap')).toHaveLength(1);
    expect((await k8sCalls(n1, 'bootstrap'))[0]).toContain(`--address ${n1.address}`);
    expect(await k8sCalls(n1, 'get-join-token')).toEqual(['k8s get-join-token node2 --worker', 'k8s get-join-token worker-b --worker']);
    const issued = await tokens(work);
    for (const n of [n2, n3]) {
      expect(await k8sCalls(n, 'bootstrap')).toEqual([]);
      const joins = await k8sCalls(n, 'join-cluster');
      expect(joins).toHaveLength(1);
      expect(joins[0]).toContain(`--address ${n.address}`);
      const token = joins[0]!.split(' ')[2]!;
      expect(issued[token]).toMatchObject({ name: k8sName(n), worker: true, used: true });
    }
    // Readiness of every node was read on the control plane, by each node's k8s name.
    const kubectlOnN1 = await k8sCalls(n1, 'kubectl get node');
    for (const n of nodes) expect(kubectlOnN1).toContain(`k8s kubectl get node ${k8sName(n)} -o json`);

    const kubectlCheck = (n: FleetNode) => `${FAKE_K8S} kubectl get node ${k8sName(n)} -o json`;
    expect(await nodeStatus(n1, files.applier)).toMatchObject({
      nodeName: 'node1',
      member: true,
      role: 'control-plane',
      ready: true,
      readyCheck: kubectlCheck(n1),
    });
    for (const n of [n2, n3]) {
      const s = await nodeStatus(n, files.applier);
      expect(s).toMatchObject({ nodeName: k8sName(n), member: true, role: 'worker', ready: true });
      // 1.32 refuses `k8s kubectl` on workers: the worker tells by kubelet's healthz and its services.
      if (release === '1.32') expect(s.readyCheck).toMatch(/^kubelet http:\/\/127\.0\.0\.1:10248\/healthz and snap services k8s/);
      else expect(s.readyCheck).toBe(kubectlCheck(n));
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
    for (const [i, n] of nodes.entries()) expect(clusterCalls(await n.calls())).toEqual(clusterCalls(before[i]!));

    // A third worker in the inventory: it joins, nothing else changes.
    const n4 = await makeFleetNode(work, { index: 4, group: 'workers', net, release });
    const grown = [...nodes, n4];
    const third = await runPlaybook(work, await writeInventory(work, grown, files));
    expect(third.exitCode).toBe(0);
    for (const n of nodes) expect(third.recap[n.name]).toMatchObject({ changed: 0, failed: 0 });
    expect(third.recap.node4?.changed).toBeGreaterThan(0);
    expect(await standins(grown)).toEqual([]);
    expect(await k8sCalls(n4, 'join-cluster')).toHaveLength(1);
    expect(await k8sCalls(n4, 'bootstrap')).toEqual([]);
    for (const [i, n] of nodes.entries())
      expect(clusterCalls(await n.calls())).toEqual([...clusterCalls(before[i]!), ...(n === n1 ? ['k8s get-join-token node4 --worker'] : [])]);
    expect(await nodeStatus(n4, files.applier)).toMatchObject({ nodeName: 'node4', member: true, role: 'worker', ready: true });
    // Default airgap_serial=1: the three workers in three batches.
    expect(third.stdout.match(/PLAY \[Join or upgrade the workers/g)).toHaveLength(3);

    // A newer bundle (k8s revision 3002), workers two at a time: every node refreshes k8s once,
    // nobody bootstraps or joins again. On node2 something holds 6443 (on a real worker, the
    // apiserver proxy): the preflight probes what is there and leaves it running.
    const held = await holdPort(n2, 6443);
    const snaps = STANDARD_SNAPS.map((s) => (s.name === 'k8s' ? { ...s, revision: 3002 } : s));
    const newer = await makeBundle({ dir: work, out: 'bundle-2.tar', keys, snaps, bootstrap: true, release });
    const beforeUpgrade = await Promise.all(grown.map((n) => n.calls()));
    const firstDigest = (await nodeStatus(n1, files.applier)).bundleDigest;
    const upgrade = await runPlaybook(work, await writeInventory(work, grown, { ...files, bundle: newer.file }), ['-e', 'airgap_serial=2']);
    expect(upgrade.stdout).not.toContain('fatal:');
    expect(upgrade.exitCode).toBe(0);
    expect(upgrade.stdout.match(/PLAY \[Join or upgrade the workers/g)).toHaveLength(2);
    expect(held.peers()).toEqual([n1.address, n3.address, n4.address].sort());
    expect(held.alive()).toBe(true);
    expect(await standins(grown)).toEqual([]);
    const digests = new Set<string | null>();
    for (const [i, n] of grown.entries()) {
      expect(upgrade.recap[n.name]).toMatchObject({ failed: 0 });
      expect(upgrade.recap[n.name]?.changed).toBeGreaterThan(0);
      const added = (await n.calls()).slice(beforeUpgrade[i]!.length);
      expect(added.filter((c) => c.startsWith('snap install') && c.includes('k8s_3002'))).toHaveLength(1);
      expect(clusterCalls(added)).toEqual([]);
      const s = await nodeStatus(n, files.applier);
      expect(s).toMatchObject({ member: true, ready: true });
      digests.add(s.bundleDigest);
    }
    expect(digests.size).toBe(1);
    expect(digests.has(firstDigest)).toBe(false);
  }, 900_000);
});

describe('examples/ansible port preflight and failures', () => {
  test('the port preflight names every src -> dst:port that a firewall rejects or drops, 8472/udp too, and changes nothing', async () => {
    const { work, nodes, files } = await fleet([cp(), cp(), worker()]);
    const [n1, n2, n3] = nodes as [FleetNode, FleetNode, FleetNode];
    await block(n2, { port: 2380, how: 'reject' }); // etcd peer port, from anyone: only node1 probes it
    await block(n3, { port: 10250, from: n2, how: 'drop' }); // kubelet, from node2 only
    await block(n3, { port: 8472, proto: 'udp', from: n1, how: 'drop' }); // Cilium VXLAN, from node1 only
    await block(n1, { port: 8472, proto: 'udp', from: n3, how: 'reject' }); // and rejected the other way
    const run = await runPlaybook(work, await writeInventory(work, nodes, files));

    expect(run.exitCode).not.toBe(0);
    expect(run.stdout).toContain('4 node-to-node connection(s) failed');
    expect(run.stdout).toContain(`node1 -> node2:2380 (${n2.address}: connection refused)`);
    expect(run.stdout).toContain(`node2 -> node3:10250 (${n3.address}: no answer in 2s)`);
    expect(run.stdout).toContain(`node1 -> node3:8472/udp (${n3.address}: no answer in 2s)`);
    expect(run.stdout).toContain(`node3 -> node1:8472/udp (${n1.address}: connection refused)`);
    expect(run.stdout).not.toContain('node3 -> node2:2380');
    expect(run.stdout).not.toContain('node1 -> node3:10250');
    expect(run.stdout).not.toContain('node2 -> node3:8472/udp');
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

  test('the datastore ports probed between control planes are the bundle manifest ones: 9000 for k8s-dqlite, etcd 2379/2380 for a manifest that does not say', async () => {
    const { work, nodes, files, keys } = await fleet([cp(), cp(), worker()], '1.32', { datastore: 'k8s-dqlite' });
    const [, n2] = nodes as [FleetNode, FleetNode, FleetNode];
    for (const port of [9000, 2380]) await block(n2, { port, how: 'reject' });
    const dqlite = await runPlaybook(work, await writeInventory(work, nodes, files));
    expect(dqlite.exitCode).not.toBe(0);
    expect(dqlite.stdout).toContain('1 node-to-node connection(s) failed');
    expect(dqlite.stdout).toContain(`node1 -> node2:9000 (${n2.address}: connection refused)`);

    // A bundle from before manifest.k8s: the role assumes etcd, the default on every release.
    const older = await makeBundle({ dir: work, out: 'bundle-old.tar', keys, bootstrap: true, release: '1.32', omitK8s: true });
    const etcd = await runPlaybook(work, await writeInventory(work, nodes, { ...files, bundle: older.file }));
    expect(etcd.exitCode).not.toBe(0);
    expect(etcd.stdout).toContain('1 node-to-node connection(s) failed');
    expect(etcd.stdout).toContain(`node1 -> node2:2380 (${n2.address}: connection refused)`);
    expect(await standins(nodes)).toEqual([]);
    for (const n of nodes) expect(await n.calls()).toEqual([]);
  }, 300_000);

  test('a node the cluster does not see Ready fails the play naming the node and what kubectl on the first control plane said', async () => {
    const { work, nodes, files } = await fleet([cp(), worker('Worker-B')]);
    const [n1] = nodes as [FleetNode, FleetNode];
    // What the first control plane runs for the others (tokens, kubectl get node) sees every node
    // NotReady; the nodes' own checks, the applier's, are not touched: each node is Ready by itself.
    const clusterView = { ...n1.env, FAKE_K8S_NOT_READY_POLLS: '1000' };
    const run = await runPlaybook(work, await writeInventory(work, nodes, files), [
      '-e',
      JSON.stringify({ airgap_first_environment: clusterView, airgap_ready_retries: 2, airgap_ready_delay: 1 }),
    ]);

    expect(run.exitCode).not.toBe(0);
    expect(run.recap.node2).toMatchObject({ failed: 1 });
    expect(run.stdout).toContain(
      `node2 is not Ready (asked 3 times, 1s apart): \`${FAKE_K8S} kubectl get node worker-b -o json\` on node1 says Ready=False (KubeletNotReady: KubeletNotReady)`,
    );
    expect(await k8sCalls(n1, 'kubectl get node worker-b')).toHaveLength(3);
    expect(await k8sCalls(nodes[1]!, 'join-cluster')).toHaveLength(1);
  }, 300_000);

  test('a node the preflight fails on (its address does not resolve) stops the play before any change, and the stand-ins of the others stop', async () => {
    const { work, nodes, files } = await fleet([cp(), cp(), worker()]);
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
    const { work, nodes, files } = await fleet([cp(), worker(), worker()]);
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
