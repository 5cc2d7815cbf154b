import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import type { BundleManifest } from '@airgap/core';
import keys from '../../packages/bundler/src/k8s/bootstrap-config-keys.json' with { type: 'json' };
import { checkBootstrapConfig } from '../../packages/bundler/src/k8s/check-bootstrap-config.ts';
import { containerdBaseFor, releaseOf } from '../../packages/bundler/src/k8s/k8s-release.ts';
import { cli } from '../support/cli.ts';
import { makeSnap } from '../support/snap-fixture.ts';
import { site, siteSpec } from '../support/site-fixture.ts';

const build = (dir: string, out = 'a.tar') => cli('bundler', ['build', 'airgap.yaml', '-o', out, '--key', 'keys/site.key', '--no-applier'], { cwd: dir });
const manifestOf = async (dir: string, file = 'a.tar') =>
  JSON.parse((await cli('bundler', ['inspect', file, '--json'], { cwd: dir })).stdout) as { k8s?: BundleManifest['k8s']; hostsDir: string };

/** A site whose k8s snap is built from Kubernetes `version` (published in `channel`), with this bootstrap config. */
async function siteFor(o: { release: string; config: string; version?: string }) {
  const dir = await site({ channel: `${o.release}-classic/stable` });
  await makeSnap({
    dir: path.join(dir, 'downloads'),
    name: 'k8s',
    revision: 30,
    base: 'core20',
    confinement: 'classic',
    version: o.version ?? `v${o.release}.2`,
  });
  await writeFile(path.join(dir, 'bootstrap.yaml'), o.config);
  return dir;
}

describe('bootstrap config checked at build time, strictly, per k8s release', () => {
  it('a typo in a key: exit 2, SPEC_INVALID at file:line:col with a suggestion, nothing written', async () => {
    const dir = await siteFor({ release: '1.34', config: 'cluster-config:\n  network:\n    enabeld: true\n' });
    const r = await build(dir);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain('error[SPEC_INVALID]: bootstrap.yaml is not a bootstrap config k8s 1.34 accepts:');
    expect(r.stderr).toContain(
      'bootstrap.yaml:3:5: cluster-config.network.enabeld: unknown key "enabeld" under cluster-config.network; did you mean "enabled"?',
    );
    expect(r.stderr).toContain('docs/canonicalk8s/_parts/bootstrap_config.md@release-1.34');
    expect(r.stderr).not.toMatch(/\n\s+at /);
    await expect(readFile(path.join(dir, 'a.tar'))).rejects.toThrow(/ENOENT/);
  });

  it('a top-level typo is suggested too, and every problem is listed in source order', async () => {
    const dir = await siteFor({ release: '1.32', config: 'pod-cdir: 10.1.0.0/16\nsecure-port: "6443"\ncluster-config:\n  dns: {enabled: maybe}\n' });
    const r = await build(dir);
    expect(r.exitCode).toBe(2);
    const lines = r.stderr.split('\n').filter((l) => l.startsWith('bootstrap.yaml:'));
    expect(lines).toEqual([
      'bootstrap.yaml:1:1: pod-cdir: unknown key "pod-cdir"; did you mean "pod-cidr"? (k8s 1.32 refuses unknown keys)',
      'bootstrap.yaml:2:14: secure-port: must be an integer, got the string "6443"',
      'bootstrap.yaml:4:18: cluster-config.dns.enabled: must be true or false, got the string "maybe"',
    ]);
  });

  it('a 1.36 bundle with datastore-type: k8s-dqlite: exit 2 at the value, naming the releases that had it', async () => {
    const dir = await siteFor({ release: '1.36', config: 'cluster-config:\n  network: {enabled: true}\ndatastore-type: k8s-dqlite\n' });
    const r = await build(dir);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain(
      'bootstrap.yaml:3:17: datastore-type: "k8s-dqlite" is not accepted by k8s 1.36; one of "etcd", "external" (it is accepted by k8s 1.32, 1.33, 1.34, 1.35)',
    );
  });

  it('a key 1.36 removed (k8s-dqlite-port) fails a 1.36 build; the same config builds for 1.35', async () => {
    const config = 'k8s-dqlite-port: 9000\nextra-node-k8s-dqlite-args: {--debug: "true"}\n';
    const dir = await siteFor({ release: '1.36', config });
    const r = await build(dir);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain(
      'bootstrap.yaml:1:1: k8s-dqlite-port: "k8s-dqlite-port" is not accepted by k8s 1.36 (it is by k8s 1.32, 1.33, 1.34, 1.35); remove it',
    );
    expect(r.stderr).toContain('bootstrap.yaml:2:1: extra-node-k8s-dqlite-args:');
    const ok = await siteFor({ release: '1.35', config });
    expect((await build(ok)).exitCode).toBe(0);
  });

  it('a valid 1.32 config with k8s-dqlite builds; the manifest and inspect say release 1.32, datastore k8s-dqlite', async () => {
    const dir = await siteFor({
      release: '1.32',
      config:
        'cluster-config:\n  network: {enabled: yes}\n  annotations: {k8sd/v1alpha/lifecycle/skip-cleanup-kubernetes-node-on-remove: "true"}\ndatastore-type: k8s-dqlite\nk8s-dqlite-port: 9000\nextra-sans: [cp.example.com]\n',
    });
    const r = await build(dir);
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
    const m = await manifestOf(dir);
    expect(m.k8s).toEqual({ release: '1.32', datastore: 'k8s-dqlite' });
    expect(m.hostsDir).toBe('/etc/containerd/hosts.d');
    expect((await cli('bundler', ['inspect', 'a.tar'], { cwd: dir })).stdout).toMatch(/^k8s {6}1\.32, datastore k8s-dqlite$/m);
  });

  it('no datastore-type means etcd; external stays external', async () => {
    const plain = await siteFor({ release: '1.33', config: 'cluster-config:\n  network: {enabled: true}\n' });
    expect((await build(plain)).exitCode).toBe(0);
    expect((await manifestOf(plain)).k8s).toEqual({ release: '1.33', datastore: 'etcd' });
    const external = await siteFor({ release: '1.36', config: 'datastore-type: external\ndatastore-servers: [https://10.0.0.5:2379]\n' });
    expect((await build(external)).exitCode).toBe(0);
    expect((await manifestOf(external)).k8s).toEqual({ release: '1.36', datastore: 'external' });
  });

  it('containerd-base-dir: 1.32–1.35 put containerd in <dir>/k8s-containerd, 1.36 in <dir>; the hosts dir and CA paths follow', async () => {
    const dir = await siteFor({ release: '1.35', config: 'containerd-base-dir: /srv/ctr/\n' });
    expect((await build(dir)).exitCode).toBe(0);
    const m = await manifestOf(dir);
    expect(m.k8s).toEqual({ release: '1.35', datastore: 'etcd', containerdBaseDir: '/srv/ctr/k8s-containerd' });
    expect(m.hostsDir).toBe('/srv/ctr/k8s-containerd/etc/containerd/hosts.d');
    await execa('tar', ['-xf', 'a.tar', 'containerd/hosts.d/docker.io/hosts.toml'], { cwd: dir });
    expect(await readFile(path.join(dir, 'containerd/hosts.d/docker.io/hosts.toml'), 'utf8')).toContain(
      'ca = "/srv/ctr/k8s-containerd/etc/containerd/hosts.d/docker.io/ca-10.100.100.100_5000.crt"',
    );
    expect((await cli('bundler', ['inspect', 'a.tar'], { cwd: dir })).stdout).toContain('containerd base /srv/ctr/k8s-containerd');

    const k36 = await siteFor({ release: '1.36', config: 'containerd-base-dir: /srv/ctr\n' });
    expect((await build(k36)).exitCode).toBe(0);
    expect(await manifestOf(k36)).toMatchObject({ k8s: { release: '1.36', containerdBaseDir: '/srv/ctr' }, hostsDir: '/srv/ctr/etc/containerd/hosts.d' });

    const relative = await siteFor({ release: '1.34', config: 'containerd-base-dir: srv/ctr\n' });
    const r = await build(relative);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain('bootstrap.yaml:1:22: containerd-base-dir: must be an absolute path, got "srv/ctr"');
  });

  it('the release comes from the snap version (v1.36.0 in a 1.35 channel is 1.36), else from the channel', async () => {
    const byVersion = await siteFor({ release: '1.35', version: 'v1.36.0', config: 'k8s-dqlite-port: 9000\n' });
    const r = await build(byVersion);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain('is not accepted by k8s 1.36');
    const byChannel = await siteFor({ release: '1.33', version: '3001.0', config: 'datastore-type: etcd\n' });
    expect((await build(byChannel)).exitCode).toBe(0);
    expect((await manifestOf(byChannel)).k8s).toEqual({ release: '1.33', datastore: 'etcd' });
  });

  it('a release outside 1.32–1.36 with a bootstrap config is refused, naming the known releases; without one it builds', async () => {
    const dir = await siteFor({ release: '1.31', config: 'cluster-config: {network: {enabled: true}}\n' });
    const r = await build(dir);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain(
      'error[SPEC_INVALID]: cannot check bootstrap.yaml for k8s 1.31 (snap version v1.31.2, channel 1.31-classic/stable): the bootstrap config keys are known for k8s 1.32, 1.33, 1.34, 1.35, 1.36',
    );
    await writeFile(
      path.join(dir, 'airgap.yaml'),
      siteSpec({ channel: '1.31-classic/stable' }).replace('cluster:\n  bootstrap: {config: ./bootstrap.yaml}\n', ''),
    );
    expect((await build(dir)).exitCode).toBe(0);
    const m = await manifestOf(dir);
    expect(m.k8s).toBeUndefined();
    expect(m.hostsDir).toBe('/var/snap/k8s/common/etc/containerd/hosts.d');
  });

  it('YAML the node cannot parse is reported at its position', async () => {
    const dir = await siteFor({ release: '1.34', config: 'cluster-config:\n  network: {enabled: true\n' });
    const r = await build(dir);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/bootstrap\.yaml:\d+:\d+: not valid YAML: /);
    const dup = await siteFor({ release: '1.34', config: 'pod-cidr: 10.1.0.0/16\npod-cidr: 10.2.0.0/16\n' });
    expect((await build(dup)).stderr).toContain('bootstrap.yaml:2:1: not valid YAML: Map keys must be unique');
  });
});

describe('the examples', () => {
  it('examples/quickstart/bootstrap.yaml is accepted by its k8s release and every later one', async () => {
    const text = await readFile(path.resolve(import.meta.dirname, '../../examples/quickstart/bootstrap.yaml'), 'utf8');
    for (const release of ['1.32', '1.33', '1.34', '1.35', '1.36'] as const) {
      expect(checkBootstrapConfig({ text, file: 'bootstrap.yaml', release })).toMatchObject({ issues: [], facts: { datastore: 'etcd' } });
    }
  });
});

describe('bootstrap-config-keys.json', () => {
  const releases = keys.releases as Record<string, { source: string; keys: Record<string, unknown>; values: Record<string, string[]> }>;

  it('has 1.32–1.36, each with its upstream source; 1.36 dropped only the k8s-dqlite keys and value', () => {
    expect(Object.keys(releases)).toEqual(['1.32', '1.33', '1.34', '1.35', '1.36']);
    for (const [r, v] of Object.entries(releases)) expect(v.source).toBe(`canonical/k8s-snap:docs/canonicalk8s/_parts/bootstrap_config.md@release-${r}`);
    const removed = Object.keys(releases['1.35']!.keys).filter((k) => !(k in releases['1.36']!.keys));
    expect(removed.sort()).toEqual(['extra-node-k8s-dqlite-args', 'k8s-dqlite-port', 'kube-ControllerManager-client-key']);
    expect(releases['1.36']!.values['datastore-type']).toEqual(['etcd', 'external']);
    expect(releases['1.32']!.values['datastore-type']).toEqual(['k8s-dqlite', 'etcd', 'external']);
  });
});

describe('checkBootstrapConfig reads YAML as the node does (gopkg.in/yaml.v2, UnmarshalStrict)', () => {
  const check = (text: string, release: '1.32' | '1.35' | '1.36' = '1.32') => {
    const r = checkBootstrapConfig({ text, file: 'b.yaml', release });
    return r.issues.length > 0 ? r.issues.map((i) => `${i.line}:${i.column} ${i.path}: ${i.message}`) : r.facts;
  };
  /** [name, config, release, facts or the issues] */
  const cases: [string, string, '1.32' | '1.35' | '1.36', unknown][] = [
    ['empty file: nothing set', '', '1.32', { datastore: 'etcd' }],
    ['only a comment', '# nothing\n', '1.36', { datastore: 'etcd' }],
    [
      'YAML 1.1 booleans (yes/on) are bools',
      'cluster-config:\n  network: {enabled: yes}\n  dns: {enabled: on}\ndisable-rbac: no\n',
      '1.32',
      { datastore: 'etcd' },
    ],
    ['a string field takes any scalar (yaml.v2 SetString)', 'pod-cidr: 10\ncluster-config: {cloud-provider: true}\n', '1.32', { datastore: 'etcd' }],
    ['null leaves a field unset', 'pod-cidr: ~\ncluster-config:\n  network:\n', '1.32', { datastore: 'etcd' }],
    ['an int field refuses a fraction', 'secure-port: 6443.5\n', '1.32', ['1:14 secure-port: must be an integer, got number 6443.5']],
    ['a list field refuses a scalar', 'extra-sans: cp.example.com\n', '1.32', ['1:13 extra-sans: must be a list, got the string "cp.example.com"']],
    ['a list of mappings is refused', 'extra-sans:\n  - {a: b}\n', '1.32', ['2:3 extra-sans: must be a list of strings, got an item that is a mapping']],
    ['a map field refuses a list', 'extra-node-kubelet-args: [--v=2]\n', '1.32', ['1:26 extra-node-kubelet-args: must be a mapping, got a list']],
    ['an object refuses a scalar', 'cluster-config: true\n', '1.32', ['1:17 cluster-config: must be a mapping, got boolean true']],
    ['the root must be a mapping', '- a\n', '1.32', ['1:1 : the bootstrap config must be a mapping of keys']],
    ['a key named like a YAML 1.1 bool is a key (on), not true', 'on: 1\n', '1.32', ['1:1 on: unknown key "on" (k8s 1.32 refuses unknown keys)']],
    [
      "merged keys count as the mapping's own",
      'cluster-config:\n  network:\n    <<: {enabled: true, enable: true}\n',
      '1.32',
      ['3:25 cluster-config.network.enable: unknown key "enable" under cluster-config.network; did you mean "enabled"? (k8s 1.32 refuses unknown keys)'],
    ],
    [
      'a merged mapping through an alias is checked',
      'cluster-config:\n  dns: &d {enabled: true}\n  network: {<<: *d, cluster-domain: x}\n',
      '1.32',
      ['3:21 cluster-config.network.cluster-domain: unknown key "cluster-domain" under cluster-config.network (k8s 1.32 refuses unknown keys)'],
    ],
    [
      'an alias is checked where it is used',
      'extra-node-kubelet-args: &x {a: b}\nextra-sans: *x\n',
      '1.32',
      ['2:13 extra-sans: must be a list, got a mapping'],
    ],
    [
      'the struct tag alias kube-ControllerManager-client-key (1.32–1.35)',
      'kube-ControllerManager-client-key: k\nkube-controller-manager-client-key: k\n',
      '1.35',
      { datastore: 'etcd' },
    ],
    ['1.36 has network.kube-proxy-enabled (k8s-snap-api v2.1.1)', 'cluster-config: {network: {kube-proxy-enabled: false}}\n', '1.36', { datastore: 'etcd' }],
    [
      '1.35 has no network.kube-proxy-enabled',
      'cluster-config: {network: {kube-proxy-enabled: false}}\n',
      '1.35',
      ['1:28 cluster-config.network.kube-proxy-enabled: "kube-proxy-enabled" is not accepted by k8s 1.35 (it is by k8s 1.36); remove it'],
    ],
    ['extra-node-containerd-config takes nested maps', 'extra-node-containerd-config:\n  plugins: {a: {b: [1]}}\n', '1.36', { datastore: 'etcd' }],
    [
      'an unknown datastore-type',
      'datastore-type: mysql\n',
      '1.32',
      ['1:17 datastore-type: "mysql" is not accepted by k8s 1.32; one of "k8s-dqlite", "etcd", "external"'],
    ],
    ['containerd-base-dir is reported as written', 'containerd-base-dir: /var/lib/ck\n', '1.36', { datastore: 'etcd', containerdBaseDir: '/var/lib/ck' }],
  ];
  it.each(cases)('%s', (_name, text, release, expected) => {
    expect(check(text, release)).toEqual(expected);
  });

  it('an alias bomb of merges is refused, not expanded', () => {
    // Each level merges ten copies of the one below: a million network mappings once expanded.
    const level = (k: number): string => (k === 0 ? '&m0 {network: {enabled: true}}' : `&m${k} {<<: [${level(k - 1)}${`, *m${k - 1}`.repeat(9)}]}`);
    const r = checkBootstrapConfig({ text: `cluster-config: ${level(6)}\n`, file: 'b.yaml', release: '1.32' });
    expect(r.facts).toBeUndefined();
    expect(r.issues.map((i) => i.message)).toEqual(['more than 100000 nodes (aliases included); refused']);
  });

  it.each([
    [{ version: 'v1.32.2', channel: '1.34-classic/stable' }, '1.32'],
    [{ version: 'v1.36.0-rc.1', channel: 'latest/edge' }, '1.36'],
    [{ version: '3001.0', channel: '1.35-classic/stable' }, '1.35'],
    [{ version: undefined, channel: '1.33/stable' }, '1.33'],
    [{ version: undefined, channel: '1.34' }, '1.34'],
    [{ version: 'abc', channel: 'latest/edge' }, undefined],
  ])('release of %o is %s', (o, release) => expect(releaseOf(o)).toBe(release));

  it.each([
    ['1.32', '/srv/ctr', '/srv/ctr/k8s-containerd'],
    ['1.35', '/srv/ctr/', '/srv/ctr/k8s-containerd'],
    ['1.35', '/', '/k8s-containerd'],
    ['1.36', '/opt/k8s/../k8s-containerd//', '/opt/k8s-containerd'],
  ] as const)('containerd base for %s and %s is %s', (release, dir, base) => expect(containerdBaseFor(release, dir)).toBe(base));
});
