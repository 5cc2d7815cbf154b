// The fake k8s/snap/systemctl against ../shared/reference/k8s-cli-contract.md: one case per row of
// "Who may run what" per release and role, then the rows of the other sections. Every case runs
// the fake executables for real, each node in its own network namespace.
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exited, fakeBin, kubeletPid, makeCluster, makeNode, removeNodes, RELEASES, type FakeNode, type Release } from './fake-nodes.ts';

const NOT_A_MEMBER = 'Error: The node is not part of a Kubernetes cluster. You can bootstrap a new cluster with:\n\n  sudo k8s bootstrap';
type Role = 'control plane' | 'worker' | 'not a member';

interface Case {
  row: string;
  role: Role;
  args: string[];
  code: number;
  stdout?: string;
  stderr?: string;
}

const after35 = (r: Release) => Number(r.split('.')[1]) >= 35;

/** "Who may run what", row by row; `r` picks the release where a row differs. */
function whoMayRunWhat(r: Release): Case[] {
  const kubectl = ['kubectl', 'get', 'node', 'cp-1', '-o', 'json'];
  return [
    { row: 'local-node-status', role: 'control plane', args: ['local-node-status'], code: 0, stdout: '{cp-1 10.77.0.2:6400 control-plane voter}' },
    { row: 'local-node-status', role: 'worker', args: ['local-node-status'], code: 0, stdout: '{worker-1 10.77.0.2 worker }' },
    { row: 'local-node-status', role: 'not a member', args: ['local-node-status'], code: 1, stderr: NOT_A_MEMBER },
    { row: 'status', role: 'control plane', args: ['status'], code: 0, stdout: 'cluster status:           ready' },
    {
      row: 'status',
      role: 'worker',
      args: ['status'],
      code: 1,
      stderr:
        'Error: Failed to retrieve the cluster status.\n\nThe error was: failed after potential retry: failed to GET /k8sd/cluster: this action is restricted on workers',
    },
    { row: 'status', role: 'not a member', args: ['status'], code: 1, stderr: NOT_A_MEMBER },
    { row: 'kubectl', role: 'control plane', args: kubectl, code: 0, stdout: '"kind": "Node"' },
    after35(r)
      ? { row: 'kubectl (1.35+: kubelet.conf)', role: 'worker', args: kubectl, code: 0, stdout: '"kind": "Node"' }
      : { row: 'kubectl (1.32–1.34)', role: 'worker', args: kubectl, code: 1, stderr: 'Error: k8s kubectl commands are not allowed on worker nodes.' },
    after35(r)
      ? // release-1.35 cmd/k8s/k8s_kubectl.go:25-33 no longer asks k8sd: no kubeconfig is the error.
        {
          row: 'kubectl (1.35+)',
          role: 'not a member',
          args: kubectl,
          code: 1,
          stderr: 'Error: /etc/kubernetes/admin.conf and /etc/kubernetes/kubelet.conf do not exist; please set KUBECONFIG.',
        }
      : { row: 'kubectl (1.32–1.34)', role: 'not a member', args: kubectl, code: 1, stderr: NOT_A_MEMBER },
    { row: 'helm', role: 'control plane', args: ['helm', 'list'], code: 0, stdout: 'helm ran: list KUBECONFIG=' },
    { row: 'helm', role: 'worker', args: ['helm', 'list'], code: 1, stderr: 'Error: k8s helm commands are not allowed on worker nodes.' },
    { row: 'helm', role: 'not a member', args: ['helm', 'list'], code: 1, stderr: NOT_A_MEMBER },
    { row: 'get-join-token', role: 'control plane', args: ['get-join-token', 'cp-2'], code: 0 },
    {
      row: 'get-join-token',
      role: 'worker',
      args: ['get-join-token', '--worker'],
      code: 1,
      stderr: 'failed to POST /k8sd/cluster/tokens: this action is restricted on workers',
    },
    { row: 'get-join-token', role: 'not a member', args: ['get-join-token', '--worker'], code: 1, stderr: NOT_A_MEMBER },
    { row: 'bootstrap', role: 'control plane', args: ['bootstrap'], code: 1, stderr: 'Error: The node is already part of a cluster' },
    { row: 'bootstrap', role: 'worker', args: ['bootstrap', '--address', '10.77.0.2'], code: 1, stderr: 'Error: The node is already part of a cluster' },
    { row: 'join-cluster', role: 'control plane', args: ['join-cluster', 'x'], code: 1, stderr: 'Error: The node is already part of a cluster' },
    { row: 'join-cluster', role: 'worker', args: ['join-cluster', 'x', '--name', 'w'], code: 1, stderr: 'Error: The node is already part of a cluster' },
  ];
}

// Each block removes its nodes (netns, stand-ins, folders) when it is done.
afterAll(removeNodes, 120_000);

describe.each(RELEASES)('k8s %s: who may run what', (release) => {
  afterAll(removeNodes, 120_000);
  let nodes: Record<Role, FakeNode>;
  beforeAll(async () => {
    const c = await makeCluster(release);
    nodes = { 'control plane': c.cp, worker: c.worker, 'not a member': c.outsider };
  });

  it.each(whoMayRunWhat(release))('row $row, $role: exit $code', async (c) => {
    const r = await nodes[c.role].run('k8s', c.args);
    expect(r.exitCode, r.stderr).toBe(c.code);
    if (c.stdout !== undefined) expect(r.stdout).toContain(c.stdout);
    if (c.stderr !== undefined) expect(r.stderr).toContain(c.stderr);
  });

  it('row local-node-status: json and yaml carry the role', async () => {
    const json = JSON.parse((await nodes['control plane'].run('k8s', ['local-node-status', '--output-format', 'json'])).stdout) as Record<string, string>;
    expect(json).toEqual({ name: 'cp-1', address: '10.77.0.2:6400', 'cluster-role': 'control-plane', 'datastore-role': 'voter' });
    const yaml = (await nodes.worker.run('k8s', ['local-node-status', '--output-format', 'yaml'])).stdout;
    expect(yaml).toContain('cluster-role: worker');
  });

  it('row bootstrap, not a member: bootstraps (default features, advertised address of the first interface)', async () => {
    const node = nodes['not a member'];
    const r = await node.run('k8s', ['bootstrap', '--timeout', '90s']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toContain('Bootstrapped a new Kubernetes cluster with node address "10.77.0.2:6400".');
    expect(await node.k8sJson()).toMatchObject({ member: true, role: 'control-plane', address: '10.77.0.2' });
    const status = JSON.parse((await node.run('k8s', ['status', '--output-format', 'json'])).stdout) as Record<string, { enabled?: boolean }>;
    const enabled = ['network', 'dns', 'ingress', 'load-balancer', 'local-storage', 'gateway', 'metrics-server'].filter((f) => status[f]?.enabled);
    expect(enabled.sort()).toEqual(['dns', 'gateway', 'local-storage', 'network']);
  });

  it('row join-cluster, not a member: joins with the role the token carries', async () => {
    const { cp } = await makeCluster(release);
    const joiner = await makeNode({ release, clusterDir: cp.env.FAKE_CLUSTER_DIR });
    const token = (await cp.run('k8s', ['get-join-token', 'cp-2'])).stdout.trim();
    const r = await joiner.run('k8s', ['join-cluster', token, '--name', 'cp-2', '--address', '10.77.0.2']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toContain('Cluster services have started on "cp-2".');
    expect((await joiner.run('k8s', ['local-node-status'])).stdout).toContain('control-plane');
    const members = JSON.parse((await cp.run('k8s', ['status', '--output-format', 'json'])).stdout) as { members: unknown[] };
    expect(members.members).toHaveLength(2);
  });
});

describe('names, tokens, addresses', () => {
  afterAll(removeNodes, 120_000);
  it('get-join-token: a name is required without --worker', async () => {
    const { cp } = await makeCluster('1.32');
    const r = await cp.run('k8s', ['get-join-token']);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toBe('Error: A node name is required for control-plane nodes.\n');
  });

  it('control-plane tokens are get-or-create per name until used; a used token is refused', async () => {
    const { cp } = await makeCluster('1.33');
    const first = (await cp.run('k8s', ['get-join-token', 'CP-2'])).stdout.trim();
    expect((await cp.run('k8s', ['get-join-token', 'cp-2'])).stdout.trim()).toBe(first);
    expect((await cp.run('k8s', ['get-join-token', 'cp-3'])).stdout.trim()).not.toBe(first);
    // microcluster's token: padded standard base64 JSON {secret, fingerprint, join_addresses}.
    expect(Object.keys(JSON.parse(Buffer.from(first, 'base64').toString()) as object)).toEqual(['secret', 'fingerprint', 'join_addresses']);
    const joiner = await makeNode({ release: '1.33', clusterDir: cp.env.FAKE_CLUSTER_DIR });
    expect((await joiner.run('k8s', ['join-cluster', first, '--name', 'cp-2'])).exitCode).toBe(0);
    expect((await cp.run('k8s', ['get-join-token', 'cp-2'])).stdout.trim()).not.toBe(first);
    const again = await makeNode({ release: '1.33', clusterDir: cp.env.FAKE_CLUSTER_DIR });
    const r = await again.run('k8s', ['join-cluster', first, '--name', 'cp-2']);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain('Error: Failed to join the cluster using the provided token.');
  });

  it('a control-plane token is bound to its name: join with another name is refused', async () => {
    const { cp } = await makeCluster('1.34');
    const token = (await cp.run('k8s', ['get-join-token', 'cp-2'])).stdout.trim();
    const joiner = await makeNode({ release: '1.34', clusterDir: cp.env.FAKE_CLUSTER_DIR });
    const r = await joiner.run('k8s', ['join-cluster', token, '--name', 'cp-9']);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain('Joining server certificate SAN does not contain join token name');
    expect((await joiner.k8sJson()).member).toBe(false);
  });

  it('worker tokens: no name needed, unpadded base64 JSON {token, secret, join_addresses, fingerprint}; a named one refuses other names', async () => {
    const { cp } = await makeCluster('1.36');
    const anyName = (await cp.run('k8s', ['get-join-token', '--worker'])).stdout.trim();
    expect(anyName).not.toMatch(/=/);
    const decoded = JSON.parse(Buffer.from(anyName, 'base64').toString()) as Record<string, unknown>;
    expect(decoded).toMatchObject({
      token: '',
      secret: expect.stringMatching(/^worker::[0-9a-f]{40}$/),
      join_addresses: ['10.77.0.2:6400'],
      fingerprint: expect.any(String),
    });
    const named = (await cp.run('k8s', ['get-join-token', 'w-2', '--worker'])).stdout.trim();
    const wrong = await makeNode({ release: '1.36', clusterDir: cp.env.FAKE_CLUSTER_DIR });
    const refused = await wrong.run('k8s', ['join-cluster', named, '--name', 'w-3']);
    expect(refused.exitCode).toBe(1);
    expect(refused.stderr).toContain('invalid token');
    const ok = await wrong.run('k8s', ['join-cluster', anyName, '--name', 'w-3']);
    expect(ok.exitCode, ok.stderr).toBe(0);
    expect((await wrong.k8sJson()).role).toBe('worker');
  });

  it('the node name is the cleaned hostname: CP-Node1 becomes cp-node1, on bootstrap and (server side) on join', async () => {
    const cp = await makeNode({ release: '1.32', hostname: 'CP-Node1' });
    expect((await cp.run('k8s', ['bootstrap'])).exitCode).toBe(0);
    expect((await cp.run('k8s', ['local-node-status'])).stdout).toBe('{cp-node1 10.77.0.2:6400 control-plane voter}\n');
    const node = JSON.parse((await cp.run('k8s', ['kubectl', 'get', 'node', 'cp-node1', '-o', 'json'])).stdout) as { metadata: { name: string } };
    expect(node.metadata.name).toBe('cp-node1');
    const token = (await cp.run('k8s', ['get-join-token', 'Worker-B', '--worker'])).stdout.trim();
    const worker = await makeNode({ release: '1.32', clusterDir: cp.env.FAKE_CLUSTER_DIR, hostname: 'Worker-B' });
    const r = await worker.run('k8s', ['join-cluster', token]);
    expect(r.exitCode, r.stderr).toBe(0);
    expect((await worker.k8sJson()).name).toBe('worker-b');
    const missing = await cp.run('k8s', ['kubectl', 'get', 'node', 'Worker-B', '-o', 'json']);
    expect(missing.exitCode).toBe(1);
    expect(missing.stderr).toBe('Error from server (NotFound): nodes "Worker-B" not found\n');
  });

  it('--address is recorded and advertised', async () => {
    const cp = await makeNode({ release: '1.35' });
    const r = await cp.run('k8s', ['bootstrap', '--address', '10.77.0.0/24', '--name', 'a', '--output-format', 'json']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ node: { address: '10.77.0.2:6400' } });
    const bad = await makeNode({ release: '1.35' });
    const refused = await bad.run('k8s', ['bootstrap', '--address', '10.99.0.0/24']);
    expect(refused.exitCode).toBe(1);
    expect(refused.stderr).toContain('Error: Failed to parse the address "10.99.0.0/24".');
  });
});

describe('readiness and the API server', () => {
  afterAll(removeNodes, 120_000);
  it('Ready is False for the first FAKE_K8S_NOT_READY_POLLS reads of a node, then True', async () => {
    const { cp } = await makeCluster('1.32');
    const ready = async () => {
      const n = JSON.parse((await cp.run('k8s', ['kubectl', 'get', 'node', 'worker-1', '-o', 'json'], { FAKE_K8S_NOT_READY_POLLS: '2' })).stdout) as {
        status: { conditions: { type: string; status: string }[] };
      };
      return n.status.conditions.find((c) => c.type === 'Ready')?.status;
    };
    expect([await ready(), await ready(), await ready()]).toEqual(['False', 'False', 'True']);
    const list = JSON.parse((await cp.run('k8s', ['kubectl', 'get', 'nodes', '-o', 'json'])).stdout) as { kind: string; items: unknown[] };
    expect(list).toMatchObject({ kind: 'List', items: [expect.anything(), expect.anything()] });
  });

  it('apiserver down: status exit 1, kubectl connection refused, local-node-status still answers', async () => {
    const { cp } = await makeCluster('1.36');
    const down = { FAKE_K8S_APISERVER_DOWN: '1' };
    const status = await cp.run('k8s', ['status'], down);
    expect(status.exitCode).toBe(1);
    expect(status.stderr).toContain('failed to check if cluster has ready nodes');
    const kubectl = await cp.run('k8s', ['kubectl', 'get', 'node', 'cp-1', '-o', 'json'], down);
    expect(kubectl.exitCode).toBe(1);
    expect(kubectl.stderr).toContain('The connection to the server 127.0.0.1:6443 was refused');
    expect((await cp.run('k8s', ['local-node-status'], down)).exitCode).toBe(0);
  });

  it('k8sd down: local-node-status fails without the not-a-member message', async () => {
    const node = await makeNode({ release: '1.32' });
    const r = await node.run('k8s', ['local-node-status'], { FAKE_K8SD_DOWN: '1' });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain('Error: Failed to check the current node status.');
    expect(r.stderr).not.toContain('not part of a Kubernetes cluster');
  });
});

describe('pre-init checks', () => {
  afterAll(removeNodes, 120_000);
  it('<base>/run/containerd present: bootstrap and join refused, nothing started', async () => {
    const node = await makeNode({ release: '1.32' });
    await mkdir(path.join(node.root, 'run', 'containerd'), { recursive: true });
    const r = await node.run('k8s', ['bootstrap']);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain(
      "Bootstrap config verification failed: pre-init checks failed for node: The path '/run/containerd' required for the containerd socket already exists.",
    );
    const join = await node.run('k8s', ['join-cluster', 'x']);
    expect(join.stderr).toContain("Join cluster config verification failed: pre-init checks failed for node: The path '/run/containerd'");
    expect(await kubeletPid(node)).toBeUndefined();
    expect((await node.k8sJson()).member).toBe(false);
  });

  it('a port bound in the netns (kubelet 10250) refuses bootstrap', async () => {
    const node = await makeNode({ release: '1.36' });
    const listener = node.spawn(process.execPath, ['-e', "require('net').createServer().listen(10250, '127.0.0.1', () => console.log('ready'))"]);
    await new Promise<void>((resolve) => listener.stdout?.once('data', () => resolve()));
    try {
      const r = await node.run('k8s', ['bootstrap']);
      expect(r.exitCode).toBe(1);
      expect(r.stderr).toContain(
        'Encountered error(s) while verifying port availability for Kubernetes services: port 10250 (needed by: kubelet) is already in use',
      );
    } finally {
      listener.kill();
      await listener;
    }
  });

  it('microk8s installed refuses bootstrap; not root is refused', async () => {
    const node = await makeNode({ release: '1.34' });
    await writeFile(path.join(node.nodeDir, 'snaps.json'), JSON.stringify({ k8s: { revision: 1 }, microk8s: { revision: 1 } }));
    const r = await node.run('k8s', ['bootstrap']);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain('Error: microk8s snap is installed.');
    await writeFile(path.join(node.nodeDir, 'snaps.json'), JSON.stringify({ k8s: { revision: 1 } }));
    // hookRequireRoot: as nobody (who may read the node's state, and has no call log).
    await chmod(node.dir, 0o755);
    await chmod(node.nodeDir, 0o755);
    const { FAKE_CALL_LOG: _log, ...env } = node.env;
    const nobody = await execa('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', path.join(fakeBin, 'k8s'), 'status'], {
      env,
      extendEnv: false,
      reject: false,
    });
    expect(nobody.exitCode).toBe(1);
    expect(String(nobody.stderr)).toContain('You do not have enough permissions. Please re-run the command with sudo.');
  });
});

describe('bootstrap config and containerd', () => {
  afterAll(removeNodes, 120_000);
  it('strict config: an unknown key fails with its line; k8s-dqlite is refused on 1.36, warned on 1.35', async () => {
    const node = await makeNode({ release: '1.36' });
    const file = path.join(node.dir, 'config.yaml');
    await writeFile(file, 'cluster-config:\n  network:\n    enabled: true\n    enabeld: true\n');
    const typo = await node.run('k8s', ['bootstrap', '--file', file]);
    expect(typo.exitCode).toBe(1);
    expect(typo.stderr).toContain('failed to parse YAML config file: yaml: unmarshal errors:\n  line 4: field enabeld not found in type api.NetworkConfig');
    await writeFile(file, 'datastore-type: k8s-dqlite\n');
    const dqlite = await node.run('k8s', ['bootstrap', '--file', file]);
    expect(dqlite.exitCode).toBe(1);
    expect(dqlite.stderr).toContain('Bootstrap config verification failed: unknown datastore type specified in bootstrap config "k8s-dqlite"');
    const old = await makeNode({ release: '1.35' });
    const ok = await old.run('k8s', ['bootstrap', '--file', file]);
    expect(ok.exitCode, ok.stderr).toBe(0);
    expect(ok.stderr).toContain('Warning: k8s-dqlite datastore is deprecated');
    expect((await old.run('snap', ['services', 'k8s'])).stdout).toMatch(/k8s\.k8s-dqlite +enabled +active/);
  });

  it('containerd-base-dir moves the base to <dir>/k8s-containerd (1.32–1.35) or <dir> (1.36, also the flag) and writes the lock file', async () => {
    const node = await makeNode({ release: '1.32' });
    const file = path.join(node.dir, 'config.yaml');
    await writeFile(file, 'containerd-base-dir: /opt/ctr\ncluster-config:\n  network:\n    enabled: true\n');
    expect((await node.run('k8s', ['bootstrap', '--file', file])).exitCode).toBe(0);
    expect(existsSync(path.join(node.root, 'opt/ctr/k8s-containerd/run/containerd'))).toBe(true);
    expect(existsSync(path.join(node.root, 'run/containerd'))).toBe(false);
    expect(await readFile(path.join(node.root, 'var/snap/k8s/common/lock/.containerd-base-dir'), 'utf8')).toBe('/opt/ctr/k8s-containerd');
    const flagged = await makeNode({ release: '1.36' });
    expect((await flagged.run('k8s', ['bootstrap', '--containerd-base-dir', '/srv/c'])).exitCode).toBe(0);
    expect(existsSync(path.join(flagged.root, 'srv/c/run/containerd'))).toBe(true);
    expect(await readFile(path.join(flagged.root, 'var/snap/k8s/common/lock/.containerd-base-dir'), 'utf8')).toBe('/srv/c');
    const old = await makeNode({ release: '1.35' });
    expect((await old.run('k8s', ['bootstrap', '--containerd-base-dir', '/srv/c'])).stderr).toContain('Error: unknown flag: --containerd-base-dir');
  });

  it('after bootstrap: run/containerd exists, *.tar side-loaded, lock file holds /', async () => {
    const node = await makeNode({ release: '1.33' });
    const images = path.join(node.root, 'var/snap/k8s/common/images');
    await mkdir(images, { recursive: true });
    await writeFile(path.join(images, 'a.tar'), 'x');
    expect((await node.run('k8s', ['bootstrap'])).exitCode).toBe(0);
    expect(existsSync(path.join(node.root, 'run/containerd'))).toBe(true);
    expect(existsSync(path.join(images, 'a.tar.loaded'))).toBe(true);
    expect(await readFile(path.join(node.root, 'var/snap/k8s/common/lock/.containerd-base-dir'), 'utf8')).toBe('/');
  });

  it('kubelet stand-in answers healthz in the node netns and stops once the node dir is gone', async () => {
    const node = await makeNode({ release: '1.32' });
    expect((await node.run('k8s', ['bootstrap'])).exitCode).toBe(0);
    const curl = node.spawn('curl', ['-s', '-w', ' %{http_code}', 'http://127.0.0.1:10248/healthz']);
    let body = '';
    curl.stdout?.on('data', (d: Buffer) => (body += d.toString()));
    await curl;
    expect(body).toBe('ok 200');
    const pid = await kubeletPid(node);
    expect(pid).toBeGreaterThan(0);
    await rm(node.nodeDir, { recursive: true, force: true });
    expect(await exited(pid!)).toBe(true);
  });
});

describe('services, systemctl, snap restart', () => {
  afterAll(removeNodes, 120_000);
  const services = async (node: FakeNode) => {
    const lines = (await node.run('snap', ['services', 'k8s'])).stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^Service +Startup +Current +Notes$/);
    return lines
      .slice(1)
      .map((l) => l.split(/\s+/))
      .filter((p) => p[2] === 'active')
      .map((p) => p[0]!.replace('k8s.', ''))
      .sort();
  };

  it('snap services k8s: before bootstrap only k8sd; per role after (1.32 with kube-proxy, 1.36 without)', async () => {
    const fresh = await makeNode({ release: '1.32' });
    expect(await services(fresh)).toEqual(['k8sd']);
    const old = await makeCluster('1.32');
    expect(await services(old.cp)).toEqual([
      'containerd',
      'etcd',
      'k8sd',
      'kube-apiserver',
      'kube-controller-manager',
      'kube-proxy',
      'kube-scheduler',
      'kubelet',
    ]);
    expect(await services(old.worker)).toEqual(['containerd', 'k8s-apiserver-proxy', 'k8sd', 'kube-proxy', 'kubelet']);
    const latest = await makeCluster('1.36');
    expect(await services(latest.cp)).toEqual(['containerd', 'etcd', 'k8sd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kubelet']);
    expect(await services(latest.worker)).toEqual(['containerd', 'k8s-apiserver-proxy', 'k8sd', 'kubelet']);
    expect((await latest.cp.run('snap', ['services', 'k8s'])).stdout).not.toContain('k8s-dqlite');
  });

  it('systemctl restart snap.k8s.containerd.service on a non-member starts containerd (creates run/containerd)', async () => {
    const node = await makeNode({ release: '1.32' });
    expect((await node.run('systemctl', ['is-active', 'snap.k8s.containerd.service'])).exitCode).toBe(3);
    expect((await node.run('systemctl', ['daemon-reload'])).exitCode).toBe(0);
    expect((await node.run('systemctl', ['restart', 'snap.k8s.containerd.service'])).exitCode).toBe(0);
    expect(existsSync(path.join(node.root, 'run/containerd'))).toBe(true);
    expect((await node.run('systemctl', ['is-active', 'snap.k8s.containerd.service'])).stdout).toBe('active\n');
    const other = await node.run('systemctl', ['restart', 'snap.k8s.kubelet.service']);
    expect(other.exitCode).toBe(1);
    expect(other.stderr).toContain('unexpected call');
  });

  it('snap restart k8s restarts every service: containerd side-loads again, kubelet comes back', async () => {
    const { cp } = await makeCluster('1.32');
    const before = await kubeletPid(cp);
    const images = path.join(cp.root, 'var/snap/k8s/common/images');
    await mkdir(images, { recursive: true });
    await writeFile(path.join(images, 'late.tar'), 'x');
    expect((await cp.run('snap', ['restart', 'k8s'])).stdout).toBe('Restarted.\n');
    expect(existsSync(path.join(images, 'late.tar.loaded'))).toBe(true);
    const after = await kubeletPid(cp);
    expect(after).toBeGreaterThan(0);
    expect(after).not.toBe(before);
    expect(await exited(before!)).toBe(true);
  });
});
