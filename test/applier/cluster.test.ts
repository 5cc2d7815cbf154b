import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { exists, makeBundle, makeKeys } from '../support/bundle-fixture.ts';
import { makeNode, type TestNode } from './node-env.ts';

const BOOTSTRAP = 'cluster-config:\n  network:\n    enabled: true\n';

interface Status {
  nodeName: string;
  member: boolean;
  role: string | null;
  ready: boolean;
  readyCheck: string;
  state: { cluster?: string };
}

const status = async (node: TestNode) => JSON.parse((await node.applier(['status', '--json'])).stdout) as Status;
const calls = async (node: TestNode, re: RegExp) => (await node.calls()).filter((c) => re.test(c));

/** A bootstrapped control plane and a node of the same cluster that has the k8s snap but has not joined. */
async function clusterOf(release: string, o: { workerHostname?: string } = {}) {
  const keys = makeKeys();
  const cp = await makeNode({ hostname: 'CP-Node1', release });
  const cpBundle = await makeBundle({ dir: cp.work, keys, bootstrap: BOOTSTRAP, release });
  const boot = await cp.applier(['apply', cpBundle.file, '--pub', cpBundle.pubFile]);
  expect(boot.stderr).toBe('');
  expect(boot.exitCode).toBe(0);
  const worker = await makeNode({ clusterDir: cp.env.FAKE_CLUSTER_DIR, hostname: o.workerHostname ?? 'Worker-B', release });
  const bundle = await makeBundle({ dir: worker.work, keys, bootstrap: BOOTSTRAP, release });
  return { cp, worker, bundle };
}

describe('cluster: bootstrap once, or join with a token', () => {
  test('bootstraps as the cleaned hostname (CP-Node1 → cp-node1), waits for Ready with progress, never again; status says control-plane', async () => {
    const node = await makeNode({ hostname: 'CP-Node1' });
    const b = await makeBundle({ dir: node.work, bootstrap: BOOTSTRAP });
    const r = await node.applier(['apply', b.file, '--pub', b.pubFile], { FAKE_K8S_NOT_READY_POLLS: '2' });
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain('waiting for node cp-node1 to be Ready');
    expect(r.stdout).toMatch(/node cp-node1 is Ready \(\d+s; \S*k8s kubectl get node cp-node1 -o json\)/);
    expect(await readFile(path.join(node.root, 'var/lib/airgap/bootstrap.yaml'), 'utf8')).toBe(BOOTSTRAP);
    const again = await node.applier(['apply', b.file, '--pub', b.pubFile]);
    expect(again.exitCode).toBe(0);
    expect(again.stdout).toMatch(/^ok +cluster/m);
    expect(await calls(node, /^k8s bootstrap/)).toHaveLength(1);
    // `k8s status` cannot tell membership (refused on workers, fails with the apiserver down): never asked.
    expect(await calls(node, /^k8s status/)).toEqual([]);
    expect(await status(node)).toMatchObject({ nodeName: 'cp-node1', member: true, role: 'control-plane', ready: true, state: { cluster: 'bootstrapped' } });
  });

  test('bootstrap and join get --timeout from --wait-timeout', async () => {
    const node = await makeNode();
    const b = await makeBundle({ dir: node.work, bootstrap: true });
    expect((await node.applier(['apply', b.file, '--pub', b.pubFile, '--wait-timeout', '120'])).exitCode).toBe(0);
    expect(await calls(node, /^k8s bootstrap/)).toEqual(['k8s bootstrap --timeout 120s']);
  });

  test('a node that does not become Ready in --wait-timeout fails the cluster step (exit 1); a re-run finishes the wait', async () => {
    const node = await makeNode();
    const b = await makeBundle({ dir: node.work, bootstrap: true });
    const r = await node.applier(['apply', b.file, '--pub', b.pubFile, '--wait-timeout', '0'], { FAKE_K8S_NOT_READY_POLLS: '3' });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain('error[STEP_FAILED]');
    expect(r.stderr).toMatch(/is not Ready after \d+s: Ready=False/);
    const again = await node.applier(['apply', b.file, '--pub', b.pubFile], { FAKE_K8S_NOT_READY_POLLS: '3' });
    expect(again.exitCode).toBe(0);
    expect(again.stdout).toContain('wait-ready');
    expect(await calls(node, /^k8s bootstrap/)).toHaveLength(1);
  });

  test('a control plane whose apiserver is down: the re-apply neither bootstraps again nor fails preflight; it waits for Ready and says why', async () => {
    const node = await makeNode();
    const b = await makeBundle({ dir: node.work, bootstrap: true });
    expect((await node.applier(['apply', b.file, '--pub', b.pubFile])).exitCode).toBe(0);
    expect(await exists(path.join(node.root, 'run/containerd'))).toBe(true);
    const down = await node.applier(['apply', b.file, '--pub', b.pubFile, '--wait-timeout', '0'], { FAKE_K8S_APISERVER_DOWN: '1' });
    expect(down.stdout).toMatch(/^ok +preflight/m);
    expect(down.exitCode).toBe(1);
    expect(down.stderr).toMatch(/error\[STEP_FAILED\]: node \S+ is not Ready after \d+s: not registered yet \(.*refused/);
    expect(await calls(node, /^k8s bootstrap/)).toHaveLength(1);
    const s = JSON.parse((await node.applier(['status', '--json'], { FAKE_K8S_APISERVER_DOWN: '1' })).stdout) as Status;
    expect(s).toMatchObject({ member: true, role: 'control-plane', ready: false });
    // Back up: the same re-run converges with no cluster change.
    const up = await node.applier(['apply', b.file, '--pub', b.pubFile]);
    expect(up.exitCode).toBe(0);
    expect(await calls(node, /^k8s (bootstrap|join-cluster)/)).toHaveLength(1);
  });

  test('k8sd not answering is an error, never "not a member": no bootstrap, no join', async () => {
    const node = await makeNode();
    const b = await makeBundle({ dir: node.work, bootstrap: true });
    expect((await node.applier(['apply', b.file, '--pub', b.pubFile])).exitCode).toBe(0);
    // The fake's k8sd is down: every k8s call that needs it fails as the real one does.
    const r = await node.applier(['apply', b.file, '--pub', b.pubFile], { FAKE_K8SD_DOWN: '1' });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/error\[(STEP_FAILED|PREFLIGHT_FAILED)\].*local-node-status/);
    expect(await calls(node, /^k8s (bootstrap|join-cluster)/)).toHaveLength(1);
  });

  for (const release of ['1.32', '1.36']) {
    test(`${release}: a worker (hostname Worker-B) joins once with a name-free --worker token; status says member, worker, Ready and how; a re-run never joins again`, async () => {
      const { cp, worker, bundle } = await clusterOf(release);
      const token = (await cp.k8s(['get-join-token', '--worker'])).stdout.trim();
      expect(token).not.toBe('');
      const bad = await worker.applier(['apply', bundle.file, '--pub', bundle.pubFile, '--join-token', 'bm90LWEtdG9rZW4']);
      expect(bad.exitCode).toBe(1);
      expect(bad.stderr).toMatch(/error\[STEP_FAILED\]: step cluster failed: /);
      expect(bad.stderr).not.toContain('bm90LWEtdG9rZW4');

      // The token from AIRGAP_JOIN_TOKEN (how the Ansible role passes it: not visible in `ps`).
      const joined = await worker.applier(['apply', bundle.file, '--pub', bundle.pubFile], { AIRGAP_JOIN_TOKEN: token });
      expect(joined.stderr).toBe('');
      expect(joined.exitCode).toBe(0);
      expect(joined.stdout).toContain('joining the cluster as worker-b');
      expect(await calls(worker, /^k8s join-cluster/)).toEqual(['k8s join-cluster bm90LWEtdG9rZW4 --timeout 600s', `k8s join-cluster ${token} --timeout 600s`]);
      expect(await calls(worker, /^k8s (bootstrap|status)/)).toEqual([]);
      const s = await status(worker);
      expect(s).toMatchObject({ nodeName: 'worker-b', member: true, role: 'worker', ready: true, state: { cluster: 'joined' } });
      // 1.32–1.34 workers may not run `k8s kubectl`: readiness from the node itself; 1.35+: the API server.
      if (release === '1.32') {
        expect(s.readyCheck).toContain('kubelet http://127.0.0.1:10248/healthz');
        expect(await calls(worker, /^k8s kubectl/)).toEqual([]);
      } else expect(s.readyCheck).toMatch(/k8s kubectl get node worker-b -o json$/);
      // The control plane sees the worker under its cleaned name.
      const seen = JSON.parse((await cp.k8s(['kubectl', 'get', 'node', 'worker-b', '-o', 'json'])).stdout) as { metadata: { name: string } };
      expect(seen.metadata.name).toBe('worker-b');

      // A re-run (the role passes no token to members) changes nothing, never joins again, and the
      // foreign-/run/containerd rule does not apply to a member whose snap made that folder.
      const again = await worker.applier(['apply', bundle.file, '--pub', bundle.pubFile]);
      expect(again.stderr).toBe('');
      expect(again.exitCode).toBe(0);
      expect(again.stdout).toContain('converged: nothing changed');
      const withToken = await worker.applier(['apply', bundle.file, '--pub', bundle.pubFile, '--join-token', token]);
      expect(withToken.exitCode).toBe(0);
      expect(await calls(worker, /^k8s (join-cluster|bootstrap)/)).toHaveLength(2);
    });
  }

  test('a control-plane token is bound to its node name: the named node joins as a control plane, another is refused by k8s', async () => {
    const { cp, worker, bundle } = await clusterOf('1.34', { workerHostname: 'cp-Node2' });
    const forOther = (await cp.k8s(['get-join-token', 'cp-node3'])).stdout.trim();
    const refused = await worker.applier(['apply', bundle.file, '--pub', bundle.pubFile, '--join-token', forOther]);
    expect(refused.exitCode).toBe(1);
    expect(refused.stderr).not.toContain(forOther);
    const own = (await cp.k8s(['get-join-token', 'cp-node2'])).stdout.trim();
    expect((await cp.k8s(['get-join-token', 'cp-node2'])).stdout.trim()).toBe(own); // get-or-create per name
    const joined = await worker.applier(['apply', bundle.file, '--pub', bundle.pubFile, '--join-token', own]);
    expect(joined.stderr).toBe('');
    expect(joined.exitCode).toBe(0);
    expect(await status(worker)).toMatchObject({ nodeName: 'cp-node2', member: true, role: 'control-plane', ready: true });
  });
});

describe('cluster: containerd-base-dir followed end to end', () => {
  test('the bootstrap config moves containerd: hosts.toml go under the new base, another runtime at /run/containerd is no obstacle, and after bootstrap the lock file of the node decides', async () => {
    const node = await makeNode({ release: '1.34' });
    // Another runtime owns the default path: the reason a site sets containerd-base-dir.
    await mkdir(path.join(node.root, 'run/containerd'), { recursive: true });
    const config = `containerd-base-dir: /opt/ctr\n${BOOTSTRAP}`;
    const hosts = { 'docker.io/hosts.toml': 'server = "https://mirror.internal:5000"\n' };
    const b = await makeBundle({ dir: node.work, bootstrap: config, containerdBaseDir: '/opt/ctr/k8s-containerd', hosts, release: '1.34' });
    const r = await node.applier(['apply', b.file, '--pub', b.pubFile]);
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
    const base = path.join(node.root, 'opt/ctr/k8s-containerd');
    expect(await readFile(path.join(base, 'etc/containerd/hosts.d/docker.io/hosts.toml'), 'utf8')).toBe(hosts['docker.io/hosts.toml']);
    expect(await exists(path.join(node.root, 'etc/containerd/hosts.d'))).toBe(false);
    expect(await exists(path.join(base, 'run/containerd'))).toBe(true);
    expect((await readFile(path.join(node.root, 'var/snap/k8s/common/lock/.containerd-base-dir'), 'utf8')).trim()).toBe('/opt/ctr/k8s-containerd');
    const again = await node.applier(['apply', b.file, '--pub', b.pubFile]);
    expect(again.exitCode).toBe(0);
    expect(again.stdout).toContain('converged: nothing changed');
  });
});

describe('cluster: the address k8s advertises', () => {
  /** A second NIC, listed first after lo, so k8s's own pick (the first interface) is the wrong one. */
  async function twoNics(node: TestNode): Promise<void> {
    await node.netns.ip(['link', 'add', 'eth9', 'type', 'veth', 'peer', 'name', 'eth9p']);
    await node.netns.ip(['link', 'set', 'eth9p', 'up']);
    await node.netns.ip(['link', 'set', 'eth9', 'up']);
    await node.netns.ip(['addr', 'add', '192.0.2.7/24', 'dev', 'eth9']);
  }

  test('cluster.address {cidr} picks the address in that network on a node with two NICs; --address wins over it', async () => {
    const node = await makeNode();
    await twoNics(node);
    const b = await makeBundle({ dir: node.work, bootstrap: true, clusterAddress: { cidr: '10.77.0.0/24' } });
    expect((await node.applier(['apply', b.file, '--pub', b.pubFile])).exitCode).toBe(0);
    expect(await calls(node, /^k8s bootstrap/)).toEqual(['k8s bootstrap --address 10.77.0.2 --timeout 600s']);

    const other = await makeNode();
    await twoNics(other);
    const ob = await makeBundle({ dir: other.work, bootstrap: true, clusterAddress: { fromInterface: 'eth9' } });
    expect((await other.applier(['apply', ob.file, '--pub', ob.pubFile, '--address', '10.77.0.2'])).exitCode).toBe(0);
    expect(await calls(other, /^k8s bootstrap/)).toEqual(['k8s bootstrap --address 10.77.0.2 --timeout 600s']);
  });

  test('cluster.address {fromInterface} with no such address fails before bootstrapping, naming what the node has', async () => {
    const node = await makeNode();
    const b = await makeBundle({ dir: node.work, bootstrap: true, clusterAddress: { fromInterface: 'bond0' } });
    const r = await node.applier(['apply', b.file, '--pub', b.pubFile]);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain('cluster.address: interface bond0 has no global address (this node has: veth0 10.77.0.2/24)');
    expect(await calls(node, /^k8s bootstrap/)).toEqual([]);
  });
});

describe('proxy and restart', () => {
  test('only containerd restarts, only when the proxy changed and containerd runs; /etc/environment keeps other lines; removing the proxy cleans up', async () => {
    const node = await makeNode();
    const keys = makeKeys();
    await mkdir(path.join(node.root, 'etc'), { recursive: true });
    await writeFile(path.join(node.root, 'etc/environment'), '# site settings\nPATH="/usr/bin:/bin"\nhttp_proxy="http://old:1"\nLANG=C.UTF-8\n');
    const restarts = async () => (await calls(node, /restart/)).map((c) => c.replace(/^(\S+ \S+).*$/, '$1'));
    const proxy = { http: 'http://proxy:3128', https: 'http://proxy:3129', noProxy: ['10.77.0.0/24'] };
    const mirror = (server: string) => ({ 'docker.io/hosts.toml': `server = "${server}"\n` });
    const dropIn = path.join(node.root, 'etc/systemd/system/snap.k8s.containerd.service.d/http-proxy.conf');

    // A new node: containerd is not running yet and reads the drop-in when bootstrap starts it.
    const b1 = await makeBundle({ dir: node.work, out: 'b1.tar', keys, proxy, hosts: mirror('https://a'), bootstrap: true });
    const r1 = await node.applier(['apply', b1.file, '--pub', b1.pubFile]);
    expect(r1.exitCode).toBe(0);
    expect(r1.stdout).toMatch(/^change +restart/m);
    expect(await restarts()).toEqual([]);
    const env = await readFile(path.join(node.root, 'etc/environment'), 'utf8');
    expect(env.startsWith('# site settings\nPATH="/usr/bin:/bin"\nhttp_proxy="http://proxy:3128"\nLANG=C.UTF-8\nHTTP_PROXY="http://proxy:3128"\n')).toBe(true);
    expect(env).toContain('https_proxy="http://proxy:3129"\n');
    expect(await readFile(dropIn, 'utf8')).toContain('"NO_PROXY=10.77.0.0/24,10.1.0.0/16,10.152.183.0/24,127.0.0.1,localhost"');

    // Only a mirror changed: hosts.toml is re-read by containerd on each pull, no restart.
    const b2 = await makeBundle({ dir: node.work, out: 'b2.tar', keys, proxy, hosts: mirror('https://b'), bootstrap: true });
    const r2 = await node.applier(['apply', b2.file, '--pub', b2.pubFile]);
    expect(r2.stdout).toMatch(/^ok +restart/m);
    expect(await restarts()).toEqual([]);

    const b3 = await makeBundle({
      dir: node.work,
      out: 'b3.tar',
      keys,
      proxy: { ...proxy, http: 'http://proxy2:3128' },
      hosts: mirror('https://b'),
      bootstrap: true,
    });
    expect((await node.applier(['apply', b3.file, '--pub', b3.pubFile])).exitCode).toBe(0);
    expect(await restarts()).toEqual(['systemctl restart']);

    const b4 = await makeBundle({ dir: node.work, out: 'b4.tar', keys, hosts: mirror('https://b'), bootstrap: true });
    expect((await node.applier(['apply', b4.file, '--pub', b4.pubFile])).exitCode).toBe(0);
    expect(await restarts()).toEqual(['systemctl restart', 'systemctl restart']);
    expect(await calls(node, /restart/)).toEqual(['systemctl restart snap.k8s.containerd.service', 'systemctl restart snap.k8s.containerd.service']);
    expect(await readFile(path.join(node.root, 'etc/environment'), 'utf8')).toBe('# site settings\nPATH="/usr/bin:/bin"\nLANG=C.UTF-8\n');
    expect(await exists(dropIn)).toBe(false);
    // Each restart follows a daemon-reload, so systemd runs containerd with the new drop-in.
    const all = await node.calls();
    for (const [i, c] of all.entries())
      if (c.startsWith('systemctl restart'))
        expect(
          all
            .slice(0, i)
            .reverse()
            .find((x) => x.startsWith('systemctl') && x !== c && !x.includes('is-active')),
        ).toBe('systemctl daemon-reload');
  });
});
