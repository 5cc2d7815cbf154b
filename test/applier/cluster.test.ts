import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { describe, expect, test } from 'vitest';
import { exists, makeBundle, makeKeys } from '../support/bundle-fixture.ts';
import { makeNode } from './node-env.ts';

const BOOTSTRAP = 'cluster-config:\n  network:\n    enabled: true\n';

describe('cluster: bootstrap once, or join with a token', () => {
  test('bootstraps with the bundled config once, waits for Ready with progress, never bootstraps again', async () => {
    const node = await makeNode();
    const b = await makeBundle({ dir: node.work, bootstrap: BOOTSTRAP });
    const r = await node.applier(['apply', b.file, '--pub', b.pubFile], { FAKE_K8S_NOT_READY_POLLS: '2' });
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain(`waiting for node ${hostname()} to be Ready`);
    expect(r.stdout).toContain(`node ${hostname()} is Ready`);
    expect(await readFile(path.join(node.root, 'var/lib/airgap/bootstrap.yaml'), 'utf8')).toBe(BOOTSTRAP);
    const again = await node.applier(['apply', b.file, '--pub', b.pubFile]);
    expect(again.exitCode).toBe(0);
    expect(again.stdout).toMatch(/^ok +cluster/m);
    expect((await node.calls()).filter((c) => c.startsWith('k8s bootstrap'))).toHaveLength(1);
  });

  test('a node that does not become Ready in --wait-timeout fails the cluster step (exit 1); a re-run finishes the wait', async () => {
    const node = await makeNode();
    const b = await makeBundle({ dir: node.work, bootstrap: true });
    const r = await node.applier(['apply', b.file, '--pub', b.pubFile, '--wait-timeout', '0'], { FAKE_K8S_NOT_READY_POLLS: '3' });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain('error[STEP_FAILED]');
    expect(r.stderr).toContain('is not Ready after');
    const again = await node.applier(['apply', b.file, '--pub', b.pubFile], { FAKE_K8S_NOT_READY_POLLS: '3' });
    expect(again.exitCode).toBe(0);
    expect(again.stdout).toContain('wait-ready');
    expect((await node.calls()).filter((c) => c.startsWith('k8s bootstrap'))).toHaveLength(1);
  });

  test('--join-token (or AIRGAP_JOIN_TOKEN) joins a cluster a bootstrapped node issued the token for; a bad token fails the step', async () => {
    const cp = await makeNode();
    const keys = makeKeys();
    const cpBundle = await makeBundle({ dir: cp.work, keys, bootstrap: true });
    expect((await cp.applier(['apply', cpBundle.file, '--pub', cpBundle.pubFile])).exitCode).toBe(0);
    const token = String((await execa('k8s', ['get-join-token', hostname(), '--worker'], { env: cp.env })).stdout).trim();

    const worker = await makeNode({ clusterDir: cp.env.FAKE_CLUSTER_DIR });
    const wBundle = await makeBundle({ dir: worker.work, keys });
    const bad = await worker.applier(['apply', wBundle.file, '--pub', wBundle.pubFile, '--join-token', 'not-a-real-token']);
    expect(bad.exitCode).toBe(1);
    expect(bad.stderr).toMatch(/error\[STEP_FAILED\]: step cluster failed: .*invalid or expired token/);

    // The token from AIRGAP_JOIN_TOKEN (how the Ansible role passes it: not visible in `ps`).
    const joined = await worker.applier(['apply', wBundle.file, '--pub', wBundle.pubFile], { AIRGAP_JOIN_TOKEN: token });
    expect(joined.stderr).toBe('');
    expect(joined.exitCode).toBe(0);
    const calls = await worker.calls();
    expect(calls).toContain(`k8s join-cluster ${token}`);
    expect(calls.filter((c) => c.startsWith('k8s bootstrap'))).toEqual([]);
    const state = JSON.parse(await readFile(path.join(worker.root, 'var/lib/airgap/state.json'), 'utf8')) as { cluster: string };
    expect(state.cluster).toBe('joined');
    // Once joined, the token is not used again.
    const again = await worker.applier(['apply', wBundle.file, '--pub', wBundle.pubFile, '--join-token', token]);
    expect(again.exitCode).toBe(0);
    expect((await worker.calls()).filter((c) => c.startsWith('k8s join-cluster'))).toHaveLength(2);
  });
});

describe('proxy and restart', () => {
  test('restart only when the proxy config changed; /etc/environment keeps other lines; removing the proxy cleans up', async () => {
    const node = await makeNode();
    const keys = makeKeys();
    await mkdir(path.join(node.root, 'etc'), { recursive: true });
    await writeFile(path.join(node.root, 'etc/environment'), '# site settings\nPATH="/usr/bin:/bin"\nhttp_proxy="http://old:1"\nLANG=C.UTF-8\n');
    const restarts = async () => (await node.calls()).filter((c) => c === 'snap restart k8s').length;
    const proxy = { http: 'http://proxy:3128', https: 'http://proxy:3129', noProxy: ['10.77.0.0/24'] };
    const mirror = (server: string) => ({ 'docker.io/hosts.toml': `server = "${server}"\n` });
    const dropIn = path.join(node.root, 'etc/systemd/system/snap.k8s.containerd.service.d/http-proxy.conf');

    const b1 = await makeBundle({ dir: node.work, out: 'b1.tar', keys, proxy, hosts: mirror('https://a') });
    expect((await node.applier(['apply', b1.file, '--pub', b1.pubFile])).exitCode).toBe(0);
    expect(await restarts()).toBe(1);
    const env = await readFile(path.join(node.root, 'etc/environment'), 'utf8');
    expect(env.startsWith('# site settings\nPATH="/usr/bin:/bin"\nhttp_proxy="http://proxy:3128"\nLANG=C.UTF-8\nHTTP_PROXY="http://proxy:3128"\n')).toBe(true);
    expect(env).toContain('https_proxy="http://proxy:3129"\n');
    expect(await readFile(dropIn, 'utf8')).toContain('"NO_PROXY=10.77.0.0/24,10.1.0.0/16,10.152.183.0/24,127.0.0.1,localhost"');

    // Only a mirror changed: hosts.toml is re-read by containerd on each pull, no restart.
    const b2 = await makeBundle({ dir: node.work, out: 'b2.tar', keys, proxy, hosts: mirror('https://b') });
    const r2 = await node.applier(['apply', b2.file, '--pub', b2.pubFile]);
    expect(r2.stdout).toMatch(/^ok +restart/m);
    expect(await restarts()).toBe(1);

    const b3 = await makeBundle({ dir: node.work, out: 'b3.tar', keys, proxy: { ...proxy, http: 'http://proxy2:3128' }, hosts: mirror('https://b') });
    expect((await node.applier(['apply', b3.file, '--pub', b3.pubFile])).exitCode).toBe(0);
    expect(await restarts()).toBe(2);

    const b4 = await makeBundle({ dir: node.work, out: 'b4.tar', keys, hosts: mirror('https://b') });
    expect((await node.applier(['apply', b4.file, '--pub', b4.pubFile])).exitCode).toBe(0);
    expect(await restarts()).toBe(3);
    expect(await readFile(path.join(node.root, 'etc/environment'), 'utf8')).toBe('# site settings\nPATH="/usr/bin:/bin"\nLANG=C.UTF-8\n');
    expect(await exists(dropIn)).toBe(false);
    const calls = await node.calls();
    expect(calls.indexOf('systemctl daemon-reload')).toBeGreaterThan(-1);
  });
});
