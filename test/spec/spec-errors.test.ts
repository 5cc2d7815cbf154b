import { describe, expect, it } from 'vitest';
import { validateSpecText } from '@airgap/core';
import { cli } from '../support/cli.ts';
import { testdir } from '../support/tmpdir.ts';

const HEAD = 'apiVersion: airgap/v1alpha1\nkind: Bundle\nmetadata: {name: prod-east}\n';
const K8S = 'k8s:\n  channel: 1.32-classic/stable\n';

/** [name, spec text, expected first error as file:line:column: message (substring)] */
const cases: [string, string, string][] = [
  ['empty document', '', 'airgap.yaml:1:1: the document must be a mapping'],
  ['not a mapping', '- a\n- b\n', 'airgap.yaml:1:1: the document must be a mapping'],
  [
    'wrong apiVersion',
    'apiVersion: airgap/v1\nkind: Bundle\nmetadata: {name: a}\n' + K8S,
    'airgap.yaml:1:13: apiVersion: must be "airgap/v1alpha1", got "airgap/v1"',
  ],
  ['wrong kind', 'apiVersion: airgap/v1alpha1\nkind: Bundel\nmetadata: {name: a}\n' + K8S, 'airgap.yaml:2:7: kind: must be "Bundle", got "Bundel"'],
  ['missing k8s', HEAD, 'airgap.yaml:1:1: missing required key "k8s"'],
  ['typo in a key', HEAD + 'k8s:\n  chanel: 1.32-classic/stable\n', 'airgap.yaml:5:3: k8s.chanel: unknown key "chanel"; did you mean "channel"?'],
  ['unknown top-level key', HEAD + K8S + 'imagez:\n  refs: []\n', 'airgap.yaml:6:1: imagez: unknown key "imagez"; did you mean "images"?'],
  ['bad channel', HEAD + 'k8s:\n  channel: "1.32 stable"\n', 'airgap.yaml:5:12: k8s.channel: "1.32 stable" is not a snap channel'],
  ['revision as string', HEAD + K8S + '  revision: "3456"\n', 'airgap.yaml:6:13: k8s.revision: must be integer, got string'],
  ['negative revision', HEAD + K8S + '  revision: -1\n', 'airgap.yaml:6:13: k8s.revision: must be >= 1'],
  [
    'bad metadata name',
    'apiVersion: airgap/v1alpha1\nkind: Bundle\nmetadata: {name: Prod_East}\n' + K8S,
    'airgap.yaml:3:18: metadata.name: "Prod_East" is not lower-case letters',
  ],
  ['image without registry', HEAD + K8S + 'images:\n  refs: [nginx]\n', 'airgap.yaml:7:10: images.refs[0]: "nginx" is not a full image reference'],
  ['refs not a list', HEAD + K8S + 'images:\n  refs: docker.io/library/nginx:1.27\n', 'airgap.yaml:7:9: images.refs: must be array, got string'],
  ['bad platform', HEAD + K8S + 'images:\n  platforms: [linux/x86]\n', 'airgap.yaml:7:15: images.platforms[0]: "linux/x86" is not os/arch'],
  ['all beside a platform', HEAD + K8S + 'images:\n  platforms: [all, linux/amd64]\n', 'airgap.yaml:7:14: images.platforms: must NOT have more than 1 items'],
  [
    'attestations not keep or drop',
    HEAD + K8S + 'images:\n  attestations: yes\n',
    'airgap.yaml:7:17: images.attestations: must be one of "keep", "drop", got "yes"',
  ],
  [
    'per-image ref without platforms',
    HEAD + K8S + 'images:\n  refs: [{ref: docker.io/c/d:2}]\n',
    'airgap.yaml:7:10: images.refs[0]: missing required key "platforms"',
  ],
  [
    'per-image bad platform',
    HEAD + K8S + 'images:\n  refs: [{ref: docker.io/c/d:2, platforms: [linux/x86]}]\n',
    'airgap.yaml:7:45: images.refs[0].platforms[0]: "linux/x86" is not os/arch',
  ],
  [
    'per-image platform typo',
    HEAD + K8S + 'images:\n  refs: [{ref: docker.io/c/d:2, platform: [linux/amd64]}]\n',
    'airgap.yaml:7:33: images.refs[0].platform: unknown key "platform"; did you mean "platforms"?',
  ],
  [
    'per-image short ref',
    HEAD + K8S + 'images:\n  refs: [{ref: nginx, platforms: [linux/amd64]}]\n',
    'airgap.yaml:7:16: images.refs[0].ref: "nginx" is not a full image reference',
  ],
  [
    'mirror endpoint not a URL',
    HEAD + K8S + 'containerd:\n  mirrors:\n    - registries: [docker.io]\n      endpoint: 10.0.0.1:5000\n',
    'airgap.yaml:9:17: containerd.mirrors[0].endpoint: "10.0.0.1:5000" is not a URL',
  ],
  [
    'mirror without endpoint',
    HEAD + K8S + 'containerd:\n  mirrors:\n    - registries: [docker.io]\n',
    'airgap.yaml:8:7: containerd.mirrors[0]: missing required key "endpoint"',
  ],
  [
    'mirror fallback not boolean',
    HEAD + K8S + 'containerd:\n  mirrors:\n    - registries: [docker.io]\n      endpoint: https://m:5000\n      fallback: "no"\n',
    'airgap.yaml:10:17: containerd.mirrors[0].fallback: must be boolean, got string',
  ],
  [
    'bad capability',
    HEAD + K8S + 'containerd:\n  mirrors:\n    - registries: [docker.io]\n      endpoint: https://m:5000\n      capabilities: [pull, fetch]\n',
    'airgap.yaml:10:28: containerd.mirrors[0].capabilities[1]: must be one of "pull", "resolve", "push", got "fetch"',
  ],
  [
    'relative hostsDir',
    HEAD + K8S + 'containerd:\n  hostsDir: etc/containerd\n',
    'airgap.yaml:7:13: containerd.hostsDir: "etc/containerd" is not an absolute path',
  ],
  [
    'proxy with a space',
    HEAD + K8S + 'proxy:\n  noProxy: ["10.0.0.0/8, localhost"]\n',
    'airgap.yaml:7:13: proxy.noProxy[0]: "10.0.0.0/8, localhost" is not a host, domain or CIDR',
  ],
  [
    'bad interface name',
    HEAD + K8S + 'network:\n  defaultRoute: {interface: "eth 0"}\n',
    'airgap.yaml:7:29: network.defaultRoute.interface: "eth 0" is not a network interface name',
  ],
  [
    'address with both forms',
    HEAD + K8S + 'cluster:\n  address: {fromInterface: eth1, cidr: 10.0.0.0/24}\n',
    'airgap.yaml:7:12: cluster.address: must NOT have more than 1 properties',
  ],
  ['address with neither form', HEAD + K8S + 'cluster:\n  address: {}\n', 'airgap.yaml:7:12: cluster.address: must NOT have fewer than 1 properties'],
  [
    'address with a typo',
    HEAD + K8S + 'cluster:\n  address: {fromInterfaces: eth1}\n',
    'airgap.yaml:7:13: cluster.address.fromInterfaces: unknown key "fromInterfaces"; did you mean "fromInterface"?',
  ],
  [
    'address cidr without a prefix',
    HEAD + K8S + 'cluster:\n  address: {cidr: 10.0.0.0}\n',
    'airgap.yaml:7:19: cluster.address.cidr: "10.0.0.0" is not an IPv4 or IPv6 network like 10.0.0.0/24',
  ],
  [
    'address cidr octet over 255',
    HEAD + K8S + 'cluster:\n  address: {cidr: 10.0.300.0/24}\n',
    'airgap.yaml:7:19: cluster.address.cidr: "10.0.300.0/24" is not an IPv4 or IPv6 network',
  ],
  [
    'address cidr IPv4 prefix over 32',
    HEAD + K8S + 'cluster:\n  address: {cidr: 10.0.0.0/33}\n',
    'airgap.yaml:7:19: cluster.address.cidr: "10.0.0.0/33" is not an IPv4 or IPv6 network',
  ],
  [
    'address cidr bad IPv6',
    HEAD + K8S + 'cluster:\n  address: {cidr: "fd00:::1/64"}\n',
    'airgap.yaml:7:19: cluster.address.cidr: "fd00:::1/64" is not an IPv4 or IPv6 network',
  ],
  [
    'address cidr IPv6 prefix over 128',
    HEAD + K8S + 'cluster:\n  address: {cidr: "fd00::/129"}\n',
    'airgap.yaml:7:19: cluster.address.cidr: "fd00::/129" is not an IPv4 or IPv6 network',
  ],
  [
    'address interface with a space',
    HEAD + K8S + 'cluster:\n  address: {fromInterface: "eth 1"}\n',
    'airgap.yaml:7:28: cluster.address.fromInterface: "eth 1" is not a network interface name',
  ],
  ['snap classic not boolean', HEAD + K8S + 'snaps:\n  - {name: helm, classic: yes}\n', 'airgap.yaml:7:27: snaps[0].classic: must be boolean, got string'],
  ['duplicate key', HEAD + K8S + 'k8s:\n  channel: 1.33-classic/stable\n', 'airgap.yaml:6:1: YAML: Map keys must be unique'],
  ['tab indentation', HEAD + 'k8s:\n\tchannel: x\n', 'airgap.yaml:5:1: YAML:'],
  ['unclosed flow mapping', HEAD + K8S + 'network: {defaultRoute: {interface: eth0}\n', 'airgap.yaml:'],
  [
    'alias bomb',
    HEAD +
      K8S +
      'x0: &a [1,1,1,1,1,1,1,1,1,1]\n' +
      Array.from(
        { length: 12 },
        (_, i) =>
          `x${i + 1}: &${'b'.repeat(i + 1)} [${Array(10)
            .fill(i === 0 ? '*a' : `*${'b'.repeat(i)}`)
            .join(',')}]`,
      ).join('\n') +
      '\n',
    'airgap.yaml:1:1: YAML: Excessive alias count',
  ],
  [
    'verify rule with neither key nor identity',
    HEAD + K8S + 'images:\n  verify:\n    - {match: "ghcr.io/org/*", mode: warn}\n',
    'airgap.yaml:8:7: images.verify[0]: rule ghcr.io/org/* names no signer: give key (a cosign.pub) or identity {issuer, subject} with trustedRoot',
  ],
  [
    'verify rule with key and identity',
    HEAD +
      K8S +
      'images:\n  verify:\n    - match: "ghcr.io/org/*"\n      key: cosign.pub\n      identity: {issuer: "https://i.example", subject: a@example.com}\n',
    'airgap.yaml:10:17: images.verify[0].identity: give key or identity, not both',
  ],
  [
    'keyless verify rule without trustedRoot',
    HEAD + K8S + 'images:\n  verify:\n    - {match: "ghcr.io/org/*", identity: {issuer: "https://i.example", subject: a@example.com}}\n',
    'airgap.yaml:8:42: images.verify[0].identity: an identity rule needs trustedRoot',
  ],
  [
    'keyless verify rule without subject',
    HEAD + K8S + 'images:\n  verify:\n    - {match: "ghcr.io/org/*", identity: {issuer: "https://i.example"}, trustedRoot: root.json}\n',
    'airgap.yaml:8:42: images.verify[0].identity: give subject (the SAN exactly) or subjectRegExp',
  ],
];

describe('spec validation errors name file:line:column, the field and what is allowed', () => {
  it.each(cases)('%s', (_name, text, expected) => {
    const r = validateSpecText(text, 'airgap.yaml');
    expect(r.value).toBeUndefined();
    const first = r.errors[0]!;
    expect(`${first.file}:${first.line}:${first.column}: ${first.path ? `${first.path}: ` : ''}${first.message}`).toContain(expected);
  });

  it('images: platforms [all], attestations defaulting to keep, evidence to true, refs as strings or {ref, platforms}', () => {
    const r = validateSpecText(
      HEAD + K8S + 'images:\n  platforms: [all]\n  refs: [docker.io/a/b:1, {ref: docker.io/c/d:2, platforms: [linux/amd64]}]\n',
      'airgap.yaml',
    );
    expect(r.errors).toEqual([]);
    expect(r.value?.images).toEqual({
      platforms: ['all'],
      attestations: 'keep',
      evidence: true,
      k8sFeatures: true,
      refs: ['docker.io/a/b:1', { ref: 'docker.io/c/d:2', platforms: ['linux/amd64'] }],
    });
  });

  it.each([['10.0.0.0/24'], ['0.0.0.0/0'], ['192.168.10.0/32'], ['fd00:10::/64'], ['2001:db8::1/128'], ['::/0']])(
    'a valid cluster.address.cidr: %s',
    (cidr) => {
      const r = validateSpecText(HEAD + K8S + `cluster:\n  address: {cidr: "${cidr}"}\n`, 'airgap.yaml');
      expect(r.errors).toEqual([]);
      expect(r.value?.cluster?.address).toEqual({ cidr });
    },
  );

  it('reports every problem, not just the first, in source order', () => {
    const r = validateSpecText(HEAD + 'k8s:\n  chanel: x\nimages:\n  refs: [nginx]\n', 'airgap.yaml');
    expect(r.errors.map((e) => `${e.line}:${e.column}`)).toEqual(['5:3', '7:10']);
  });

  it('the CLI exits 2 with the positions and no stack trace', async () => {
    const dir = await testdir({ 'airgap.yaml': HEAD + 'k8s:\n  chanel: 1.32-classic/stable\n' });
    const r = await cli('bundler', ['build', 'airgap.yaml', '-o', 'b.tar', '--key', 'none.key', '--no-applier'], { cwd: dir });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain('error[SPEC_INVALID]: airgap.yaml is invalid');
    expect(r.stderr).toContain('airgap.yaml:5:3: k8s.chanel: unknown key "chanel"; did you mean "channel"?');
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('a file the spec names must exist, reported at the field', async () => {
    const dir = await testdir({ 'airgap.yaml': HEAD + K8S + 'cluster:\n  bootstrap: {config: ./missing.yaml}\n' });
    const r = await cli('bundler', ['lock', 'airgap.yaml'], { cwd: dir });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain('airgap.yaml:7:23: cluster.bootstrap.config: file ./missing.yaml not found');
  });
});
