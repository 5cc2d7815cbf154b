import { readFile, writeFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { exists, makeBundle, makeKeys, type BundleFixtureOptions, type FixtureImage } from '../support/bundle-fixture.ts';
import { hashTree, makeNode } from './node-env.ts';

const HOSTS = {
  'docker.io/hosts.toml':
    'server = "https://registry-1.docker.io"\n[host."https://mirror.internal:5000"]\n  capabilities = ["pull", "resolve"]\n  ca = "/etc/containerd/hosts.d/docker.io/ca.crt"\n',
  'docker.io/ca.crt': '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n',
  'quay.io/hosts.toml': 'server = "https://quay.io"\n[host."https://mirror.internal:5000"]\n  capabilities = ["pull", "resolve"]\n',
};
const IMAGES: FixtureImage[] = [
  { ref: 'docker.io/library/hello:1.0', files: { 'hello.txt': 'hello\n' } },
  { ref: 'ghcr.io/canonical/pause:3.10', files: { 'pause.txt': 'pause\n' } },
];
const PROXY = { http: 'http://proxy.internal:3128', https: 'http://proxy.internal:3128', noProxy: ['10.77.0.0/24'] };

function full(dir: string, extra: Partial<BundleFixtureOptions> = {}): BundleFixtureOptions {
  return { dir, hosts: HOSTS, images: IMAGES, proxy: PROXY, bootstrap: 'cluster-config:\n  network:\n    enabled: true\n', ...extra };
}

describe('applier apply', () => {
  test('converges a fresh node, and a second run changes nothing and says so', async () => {
    const node = await makeNode();
    await mkdir(path.join(node.root, 'etc'), { recursive: true });
    await writeFile(path.join(node.root, 'etc/environment'), 'PATH="/usr/local/sbin:/usr/bin"\nLANG=C.UTF-8\n');
    const b = await makeBundle(full(node.work));

    const first = await node.applier(['apply', b.file, '--pub', b.pubFile]);
    expect(first.stderr).toBe('');
    expect(first.exitCode).toBe(0);
    expect(first.stdout).toMatch(/change +snaps/);
    expect(first.stdout).toMatch(/converged: \d+ change\(s\) made/);

    const calls = await node.calls();
    const installs = calls.filter((c) => c.startsWith('snap ack') || c.startsWith('snap install'));
    expect(installs.map((c) => c.replace(/ \S*\/([^/ ]+)/, ' $1'))).toEqual([
      'snap ack snapd_21759.assert',
      'snap install snapd_21759.snap',
      'snap ack core22_1722.assert',
      'snap install core22_1722.snap',
      'snap ack k8s_3001.assert',
      'snap install k8s_3001.snap --classic',
    ]);
    expect(calls.filter((c) => c.startsWith('k8s bootstrap'))).toEqual([`k8s bootstrap --file ${node.root}/var/lib/airgap/bootstrap.yaml --timeout 600s`]);
    // containerd was not running before the bootstrap: it read the new proxy drop-in when it started.
    expect(calls.filter((c) => c.includes('restart'))).toEqual([]);

    for (const [target, content] of Object.entries(HOSTS)) expect(await readFile(path.join(node.root, 'etc/containerd/hosts.d', target), 'utf8')).toBe(content);
    expect(await readFile(path.join(node.root, 'etc/environment'), 'utf8')).toBe(
      'PATH="/usr/local/sbin:/usr/bin"\nLANG=C.UTF-8\n' +
        'HTTP_PROXY="http://proxy.internal:3128"\nhttp_proxy="http://proxy.internal:3128"\nHTTPS_PROXY="http://proxy.internal:3128"\nhttps_proxy="http://proxy.internal:3128"\n' +
        'NO_PROXY="10.77.0.0/24,10.1.0.0/16,10.152.183.0/24,127.0.0.1,localhost"\nno_proxy="10.77.0.0/24,10.1.0.0/16,10.152.183.0/24,127.0.0.1,localhost"\n',
    );
    const dropIn = await readFile(path.join(node.root, 'etc/systemd/system/snap.k8s.containerd.service.d/http-proxy.conf'), 'utf8');
    expect(dropIn).toContain('[Service]\nEnvironment="HTTP_PROXY=http://proxy.internal:3128" "http_proxy=http://proxy.internal:3128" "HTTPS_PROXY=');
    // containerd was not running: each image waits as an OCI tar, which the (fake) snap loaded at bootstrap.
    for (const image of b.manifest.images)
      expect(await exists(path.join(node.root, `var/snap/k8s/common/images/airgap-${image.digest.slice(7)}.tar.loaded`))).toBe(true);
    const state = JSON.parse(await readFile(path.join(node.root, 'var/lib/airgap/state.json'), 'utf8')) as {
      bundle: { digest: string };
      snaps: Record<string, number>;
      cluster: string;
    };
    expect(state.snaps).toEqual({ snapd: 21759, core22: 1722, k8s: 3001 });
    expect(state.cluster).toBe('bootstrapped');

    const before = await hashTree(node.root);
    const callsBefore = (await node.calls()).length;
    const second = await node.applier(['apply', b.file, '--pub', b.pubFile]);
    expect(second.exitCode).toBe(0);
    expect(second.stdout).toContain('converged: nothing changed, the node already matched fixture');
    expect(second.stdout).not.toMatch(/^change/m);
    expect(await hashTree(node.root)).toEqual(before);
    const newCalls = (await node.calls()).slice(callsBefore);
    expect(newCalls.filter((c) => !/^(snap (list|version|services)|k8s (local-node-status|kubectl)|systemctl is-active)/.test(c))).toEqual([]);
  });

  test('plan and --dry-run show ok/change/skip with why, as text and JSON, and change nothing', async () => {
    const node = await makeNode();
    const b = await makeBundle({ dir: node.work, hosts: HOSTS });
    const plan = await node.applier(['plan', b.file, '--pub', b.pubFile, '--json']);
    expect(plan.stderr).toBe('');
    expect(plan.exitCode).toBe(0);
    const parsed = JSON.parse(plan.stdout) as { steps: { id: string; status: string; why: string; changes: { action: string; target: string }[] }[] };
    const byId = Object.fromEntries(parsed.steps.map((s) => [s.id, s]));
    expect(parsed.steps.map((s) => s.id)).toEqual([
      'preflight',
      'default-route',
      'snaps',
      'containerd-hosts',
      'proxy',
      'images',
      'prune',
      'restart',
      'cluster',
      'workloads',
    ]);
    expect(byId.preflight?.status).toBe('ok');
    expect(byId['default-route']).toMatchObject({ status: 'skip', why: 'the bundle sets no network.defaultRoute' });
    expect(byId.snaps?.changes.map((c) => `${c.action} ${c.target}`)).toEqual(['install snapd=21759', 'install core22=1722', 'install k8s=3001']);
    expect(byId['containerd-hosts']?.changes).toHaveLength(3);
    expect(byId.proxy?.status).toBe('skip');
    expect(byId.cluster?.status).toBe('skip');
    expect(byId.workloads?.status).toBe('skip');

    const dry = await node.applier(['apply', b.file, '--pub', b.pubFile, '--dry-run']);
    expect(dry.exitCode).toBe(0);
    expect(dry.stdout).toMatch(/^change +snaps/m);
    expect(dry.stdout).toMatch(/^skip +proxy +the bundle sets no proxy/m);
    expect(dry.stdout).toContain('dry run: 6 change(s) would be made');
    expect(await hashTree(node.root)).toEqual({});
    expect((await node.calls()).filter((c) => /install|ack|restart|bootstrap|daemon-reload/.test(c))).toEqual([]);
  });

  test('a second bundle with one image and one mirror fewer removes exactly those files; foreign files stay', async () => {
    const node = await makeNode();
    const keys = makeKeys();
    const first = await makeBundle(full(node.work, { keys, bootstrap: undefined, proxy: undefined }));
    const r1 = await node.applier(['apply', first.file, '--pub', first.pubFile]);
    expect(r1.stderr).toBe('');
    expect(r1.exitCode).toBe(0);
    const hostsDir = path.join(node.root, 'etc/containerd/hosts.d');
    await writeFile(path.join(hostsDir, 'quay.io/notes.txt'), 'mine\n');
    await mkdir(path.join(hostsDir, 'registry.local'), { recursive: true });
    await writeFile(path.join(hostsDir, 'registry.local/hosts.toml'), 'server = "https://registry.local"\n');
    const imagesDir = path.join(node.root, 'var/snap/k8s/common/images');
    await writeFile(path.join(imagesDir, 'other.tar'), 'not ours');
    const before = await hashTree(node.root);

    const { 'quay.io/hosts.toml': _dropped, ...fewerHosts } = HOSTS;
    const second = await makeBundle({ dir: node.work, out: 'second.tar', keys, hosts: fewerHosts, images: IMAGES.slice(0, 1) });
    const r = await node.applier(['apply', second.file, '--pub', second.pubFile]);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain('remove /etc/containerd/hosts.d/quay.io/hosts.toml (no longer in the bundle)');
    const after = await hashTree(node.root);
    const gone = Object.keys(before).filter((k) => !(k in after));
    const droppedImage = first.manifest.images.find((i) => i.ref === IMAGES[1]!.ref)!;
    expect(gone.sort()).toEqual(['etc/containerd/hosts.d/quay.io/hosts.toml', `var/snap/k8s/common/images/airgap-${droppedImage.digest.slice(7)}.tar`].sort());
    expect(Object.keys(after).filter((k) => !(k in before))).toEqual([]);
    for (const k of Object.keys(after)) if (k !== 'var/lib/airgap/state.json') expect(after[k], k).toBe(before[k]);
  });
});
