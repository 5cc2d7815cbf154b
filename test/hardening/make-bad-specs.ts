// Writes the bad-spec corpus: test/hardening/bad-specs/NN-name.yaml, and expected.json with the
// position and message each must produce. Run: node scripts/run-ts.mjs test/hardening/make-bad-specs.ts
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';

const dir = path.resolve(process.argv[2] ?? 'test/hardening/bad-specs');
const HEAD = 'apiVersion: airgap/v1alpha1\nkind: Bundle\nmetadata: {name: prod}\n';
const K8S = 'k8s:\n  channel: 1.32-classic/stable\n';
const ok = HEAD + K8S;

/** [name, content, expected "line:column", expected message fragment] */
const corpus: [string, string | Buffer, string, string][] = [
  ['empty', '', '1:1', 'the document must be a mapping'],
  ['only-comment', '# nothing\n', '1:1', 'the document must be a mapping'],
  ['sequence-root', '- a\n', '1:1', 'the document must be a mapping'],
  ['scalar-root', 'hello\n', '1:1', 'the document must be a mapping'],
  ['null-root', '~\n', '1:1', 'the document must be a mapping'],
  ['wrong-api-version', ok.replace('airgap/v1alpha1', 'airgap/v2'), '1:13', 'must be "airgap/v1alpha1"'],
  ['wrong-kind', ok.replace('kind: Bundle', 'kind: Cluster'), '2:7', 'must be "Bundle"'],
  ['missing-api-version', ok.replace('apiVersion: airgap/v1alpha1\n', ''), '1:1', 'missing required key "apiVersion"'],
  ['missing-metadata', ok.replace('metadata: {name: prod}\n', ''), '1:1', 'missing required key "metadata"'],
  ['missing-name', ok.replace('{name: prod}', '{}'), '3:11', 'missing required key "name"'],
  ['name-uppercase', ok.replace('name: prod', 'name: Prod'), '3:18', 'is not lower-case'],
  ['name-too-long', ok.replace('name: prod', `name: ${'a'.repeat(64)}`), '3:18', 'at most 63'],
  ['missing-k8s', HEAD, '1:1', 'missing required key "k8s"'],
  ['k8s-not-map', HEAD + 'k8s: 1.32\n', '4:6', 'must be object'],
  ['channel-typo', HEAD + 'k8s:\n  chanel: 1.32-classic/stable\n', '5:3', 'did you mean "channel"'],
  ['channel-number', HEAD + 'k8s:\n  channel: 1.32\n', '5:12', 'must be string'],
  ['channel-garbage', HEAD + 'k8s:\n  channel: "stable please"\n', '5:12', 'is not a snap channel'],
  ['revision-string', ok + '  revision: latest\n', '6:13', 'must be integer'],
  ['revision-zero', ok + '  revision: 0\n', '6:13', 'must be >= 1'],
  ['revision-float', ok + '  revision: 1.5\n', '6:13', 'must be integer'],
  ['snapd-string', ok + '  snapd: "no"\n', '6:10', 'must be boolean'],
  ['unknown-top-key', ok + 'imgaes: {}\n', '6:1', 'did you mean "images"'],
  [
    'unknown-deep-key',
    ok + 'containerd:\n  mirrors:\n    - registries: [docker.io]\n      endpoint: https://m\n      capabilties: [pull]\n',
    '10:7',
    'did you mean "capabilities"',
  ],
  ['snaps-not-list', ok + 'snaps: {name: helm}\n', '6:8', 'must be array'],
  ['snap-no-name', ok + 'snaps:\n  - {channel: 3.x/stable}\n', '7:5', 'missing required key "name"'],
  ['snap-bad-name', ok + 'snaps:\n  - {name: "Helm!"}\n', '7:12', 'is not a snap name'],
  ['snap-classic-string', ok + 'snaps:\n  - {name: helm, classic: "true"}\n', '7:27', 'must be boolean'],
  ['snapsdir-empty', ok + 'sources: {snapsDir: ""}\n', '6:21', 'must NOT have fewer than 1 characters'],
  ['snapsdir-missing-folder', ok + 'sources: {snapsDir: ./nowhere}\n', '6:21', 'folder ./nowhere not found'],
  ['registry-source-no-endpoint', ok + 'sources:\n  registries:\n    docker.io: {ca: ./ca.crt}\n', '8:16', 'missing required key "endpoint"'],
  ['registry-source-bad-key', ok + 'sources:\n  registries:\n    "Docker.IO": {endpoint: https://m}\n', '8:5', '"Docker.IO" is not a registry host'],
  ['platform-typo', ok + 'images:\n  platforms: [linux/amd46]\n', '7:15', 'is not os/arch'],
  ['platforms-empty', ok + 'images:\n  platforms: []\n', '7:14', 'must NOT have fewer than 1 items'],
  ['platforms-duplicate', ok + 'images:\n  platforms: [linux/amd64, linux/amd64]\n', '7:14', 'duplicate items'],
  ['ref-no-registry', ok + 'images:\n  refs: [nginx:1.27]\n', '7:10', 'is not a full image reference'],
  ['ref-uppercase', ok + 'images:\n  refs: [docker.io/Library/nginx:1.27]\n', '7:10', 'is not a full image reference'],
  ['ref-bad-digest', ok + 'images:\n  refs: [docker.io/library/nginx@sha256:abc]\n', '7:10', 'is not a full image reference'],
  ['ref-with-space', ok + 'images:\n  refs: ["docker.io/library/nginx :1.27"]\n', '7:10', 'is not a full image reference'],
  ['k8sfeatures-string', ok + 'images:\n  k8sFeatures: yes\n', '7:16', 'must be boolean'],
  ['mirror-no-registries', ok + 'containerd:\n  mirrors:\n    - endpoint: https://m\n', '8:7', 'missing required key "registries"'],
  ['mirror-empty-registries', ok + 'containerd:\n  mirrors:\n    - registries: []\n      endpoint: https://m\n', '8:19', 'must NOT have fewer than 1 items'],
  ['mirror-endpoint-ftp', ok + 'containerd:\n  mirrors:\n    - registries: [docker.io]\n      endpoint: ftp://m\n', '9:17', 'is not a URL'],
  [
    'mirror-capability-typo',
    ok + 'containerd:\n  mirrors:\n    - registries: [docker.io]\n      endpoint: https://m\n      capabilities: [pul]\n',
    '10:22',
    'must be one of',
  ],
  [
    'mirror-ca-missing-file',
    ok + 'containerd:\n  mirrors:\n    - registries: [docker.io]\n      endpoint: https://m\n      ca: ./missing-ca.crt\n',
    '10:11',
    'file ./missing-ca.crt not found',
  ],
  ['hostsdir-relative', ok + 'containerd: {hostsDir: etc/containerd}\n', '6:24', 'is not an absolute path'],
  ['proxy-not-url', ok + 'proxy: {http: squid:3128}\n', '6:15', 'is not a URL'],
  ['noproxy-string', ok + 'proxy: {noProxy: "localhost,127.0.0.1"}\n', '6:18', 'must be array'],
  ['noproxy-comma', ok + 'proxy: {noProxy: ["a,b"]}\n', '6:19', 'is not a host, domain or CIDR'],
  ['route-no-interface', ok + 'network: {defaultRoute: {}}\n', '6:25', 'missing required key "interface"'],
  ['route-long-interface', ok + 'network: {defaultRoute: {interface: abcdefghijklmnopq}}\n', '6:37', 'is not a network interface name'],
  ['bootstrap-missing-file', ok + 'cluster: {bootstrap: {config: ./nope.yaml}}\n', '6:31', 'file ./nope.yaml not found'],
  ['bootstrap-extra-key', ok + 'cluster: {bootstrap: {config: ./b.yaml, token: x}}\n', '6:41', 'unknown key "token"'],
  ['duplicate-key', ok + 'k8s:\n  channel: 1.33-classic/stable\n', '6:1', 'Map keys must be unique'],
  ['tab-indent', HEAD + 'k8s:\n\tchannel: x\n', '5:1', 'YAML'],
  ['unclosed-flow', ok + 'network: {defaultRoute: {interface: eth0}\n', '7:1', 'YAML'],
  ['unclosed-quote', ok + 'proxy: {http: "http://x}\n', '7:1', 'YAML: Missing closing "quote'],
  ['multi-document', ok + '---\n' + ok, '6:1', 'YAML'],
  [
    'alias-bomb',
    ok +
      'x0: &a [1,1,1,1,1,1,1,1,1,1]\n' +
      Array.from(
        { length: 12 },
        (_, i) =>
          `x${i + 1}: &${'b'.repeat(i + 1)} [${Array(10)
            .fill(i === 0 ? '*a' : `*${'b'.repeat(i)}`)
            .join(',')}]`,
      ).join('\n') +
      '\n',
    '1:1',
    'Excessive alias count',
  ],
  ['deep-nesting', ok + 'x: ' + '['.repeat(5000) + ']'.repeat(5000) + '\n', '6', 'YAML: nested too deeply'],
  ['huge-file', ok + '# ' + 'x'.repeat(1_100_000) + '\n', '1:1', 'a spec may be at most 1048576'],
  ['long-scalar', ok.replace('name: prod', `name: ${'a'.repeat(200_000)}`), '3:18', 'at most 63'],
  ['binary-garbage', Buffer.from(Array.from({ length: 512 }, (_, i) => (i * 131 + 7) % 256)), '1:1', 'the document must be a mapping'],
  ['nul-bytes', ok.replace('prod', 'pr\u0000od'), '3:18', '"pr\\u0000od" is not lower-case'],
  ['python-tag', ok + 'x: !!python/object:os.system ls\n', '6:1', 'unknown key "x"'],
  ['merge-key-smuggle', ok + 'base: &b {chanel: 1.32-classic/stable}\n', '6:1', 'unknown key "base"'],
];

await rm(dir, { recursive: true, force: true });
await mkdir(dir, { recursive: true });
const expected: Record<string, { at: string; message: string }> = {};
for (const [i, [name, content, at, message]] of corpus.entries()) {
  const file = `${String(i + 1).padStart(2, '0')}-${name}.yaml`;
  await writeFile(path.join(dir, file), content);
  expected[file] = { at, message };
}
await writeFile(path.join(dir, 'b.yaml'), 'cluster-config: {}\n');
await writeFile(path.join(dir, 'expected.json'), `${JSON.stringify(expected, null, 2)}\n`);
process.stdout.write(`wrote ${corpus.length} bad specs to ${dir}\n`);
