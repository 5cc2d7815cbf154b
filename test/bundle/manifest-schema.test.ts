import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { entryPathProblem, isAirgapError, K8S_DATASTORES, K8S_RELEASES, validateLockText, validateManifest, type BundleManifest } from '@airgap/core';
import manifestSchema from '../../schemas/bundle-manifest.schema.json' with { type: 'json' };
import { baseManifest, makeKeys } from './bundle-helpers.ts';

const sha = (s: string) => createHash('sha256').update(s).digest('hex');
const DIGEST = `sha256:${'a'.repeat(64)}`;
const SUBSET = `sha256:${'b'.repeat(64)}`;
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
const signer = makeKeys().publicKey.fingerprint;

/** A valid manifest carrying one snap, one hosts file and one subset index; each case breaks one field. */
function manifest(): BundleManifest {
  const entry = (path: string) => ({ path, size: 1, sha256: sha(path), mode: 0o644 });
  return {
    ...baseManifest(signer),
    snaps: [
      {
        name: 'k8s',
        role: 'k8s',
        revision: 3001,
        channel: '1.32-classic/stable',
        classic: true,
        sha3_384: 'A'.repeat(64),
        size: 1,
        snapPath: 'snaps/k8s_3001.snap',
        assertPath: 'snaps/k8s_3001.assert',
      },
    ],
    images: [{ ref: 'docker.io/library/nginx:1.27', digest: DIGEST, mediaType: OCI_INDEX, subset: { digest: SUBSET, size: 300, platforms: ['linux/amd64'] } }],
    imageLayout: 'images',
    k8s: { release: '1.32', datastore: 'etcd' },
    entries: [
      'airgap/SHA256SUMS',
      'snaps/k8s_3001.snap',
      'snaps/k8s_3001.assert',
      'containerd/hosts.d/docker.io/hosts.toml',
      `images/blobs/sha256/${'b'.repeat(64)}`,
    ].map(entry),
  };
}

function outcome(change: (m: BundleManifest & Record<string, unknown>) => void): string {
  const m = manifest() as BundleManifest & Record<string, unknown>;
  change(m);
  try {
    validateManifest(JSON.parse(JSON.stringify(m)));
    return 'ACCEPTED';
  } catch (err) {
    if (isAirgapError(err)) return err.code;
    throw err;
  }
}

describe('the manifest schema', () => {
  const cases: [string, (m: BundleManifest & Record<string, unknown>) => void, string][] = [
    ['the valid manifest (control)', () => undefined, 'ACCEPTED'],
    ['an unknown top-level key', (m) => (m.extra = 1), 'BUNDLE_INVALID'],
    ['a snap name starting with a hyphen', (m) => (m.snaps[0]!.name = '-k8s'), 'BUNDLE_INVALID'],
    ['a snap name with two hyphens in a row', (m) => (m.snaps[0]!.name = 'a--b'), 'BUNDLE_INVALID'],
    ['a snap name of 41 characters', (m) => (m.snaps[0]!.name = 'a'.repeat(41)), 'BUNDLE_INVALID'],
    ['a snap name of 40 characters', (m) => (m.snaps[0]!.name = 'a'.repeat(40)), 'ACCEPTED'],
    ['snap revision 0', (m) => (m.snaps[0]!.revision = 0), 'BUNDLE_INVALID'],
    ['a fractional snap revision', (m) => (m.snaps[0]!.revision = 1.5), 'BUNDLE_INVALID'],
    ['a snap channel with a space', (m) => (m.snaps[0]!.channel = 'latest/stable --devmode'), 'BUNDLE_INVALID'],
    ['an unknown snap role', (m) => ((m.snaps[0] as { role: string }).role = 'kernel'), 'BUNDLE_INVALID'],
    ['a snap path with ..', (m) => (m.snaps[0]!.snapPath = 'snaps/../k8s.snap'), 'BUNDLE_INVALID'],
    ['a snap sha3-384 that is hex', (m) => (m.snaps[0]!.sha3_384 = 'a'.repeat(96)), 'BUNDLE_INVALID'],
    ['a hosts dir with a . segment', (m) => (m.containerd.hostsDir = '/etc/./containerd'), 'BUNDLE_INVALID'],
    ['a hosts dir with a newline', (m) => (m.containerd.hostsDir = '/etc/containerd\n'), 'BUNDLE_INVALID'],
    ['a hosts file target with ..', (m) => (m.containerd.files[0]!.target = '../x/hosts.toml'), 'PATH_TRAVERSAL'],
    ["the spec's hosts dir with a .. segment", (m) => (m.spec.containerd = { hostsDir: '/etc/../root', mirrors: [] }), 'BUNDLE_INVALID'],
    ["the spec's default-route interface with a space", (m) => (m.spec.network = { defaultRoute: { interface: 'eth0 up' } }), 'BUNDLE_INVALID'],
    ["the spec's proxy with a space", (m) => (m.spec.proxy = { http: 'http://p:3128 x', noProxy: [] }), 'BUNDLE_INVALID'],
    [
      "the spec's proxy with a $ (it lands quoted in /etc/environment)",
      (m) => (m.spec.proxy = { http: 'http://p:3128/$(reboot)', noProxy: [] }),
      'BUNDLE_INVALID',
    ],
    ["the spec's no-proxy entry with a quote", (m) => (m.spec.proxy = { http: 'http://p:3128', noProxy: ['a"b'] }), 'BUNDLE_INVALID'],
    [
      "the spec's proxy and no-proxy as the bundler writes them",
      (m) => (m.spec.proxy = { http: 'http://user:pw@p:3128', https: 'http://p:3129', noProxy: ['10.0.0.0/8', '.corp'] }),
      'ACCEPTED',
    ],
    [
      "the spec's mirror endpoint with a backtick",
      (m) =>
        (m.spec.containerd = {
          mirrors: [{ registries: ['docker.io'], endpoint: 'https://m`x`:5000', capabilities: ['pull'], skipVerify: false, overridePath: false }],
        }),
      'BUNDLE_INVALID',
    ],
    ['a lock snap with a hostile name', (m) => (m.lock.snaps = [{ name: '--classic', revision: 1, 'sha3-384': 'A'.repeat(64), size: 1 }]), 'BUNDLE_INVALID'],
    ['an image name without tag or digest', (m) => (m.images[0]!.ref = 'docker.io/library/nginx'), 'BUNDLE_INVALID'],
    ['an image name with an upper-case repository', (m) => (m.images[0]!.ref = 'docker.io/Library/nginx:1'), 'BUNDLE_INVALID'],
    ['an unknown media type', (m) => (m.images[0]!.mediaType = 'text/html'), 'BUNDLE_INVALID'],
    ['a subset on a name without a tag', (m) => (m.images[0]!.ref = `docker.io/library/nginx@${DIGEST}`), 'BUNDLE_INVALID'],
    ['a subset equal to the digest', (m) => (m.images[0]!.subset!.digest = DIGEST), 'BUNDLE_INVALID'],
    ['a subset whose blob is not carried', (m) => (m.entries = m.entries.slice(0, 4)), 'BUNDLE_INVALID'],
    ['a subset platform with a space', (m) => (m.images[0]!.subset!.platforms = ['linux/amd64 x']), 'BUNDLE_INVALID'],
    ['an unknown k8s release', (m) => ((m.k8s as { release: string }).release = '1.31'), 'BUNDLE_INVALID'],
    ['k8s-dqlite on 1.36', (m) => (m.k8s = { release: '1.36', datastore: 'k8s-dqlite' }), 'BUNDLE_INVALID'],
    ['k8s-dqlite on 1.35', (m) => (m.k8s = { release: '1.35', datastore: 'k8s-dqlite' }), 'ACCEPTED'],
    ['a relative containerd base dir', (m) => (m.k8s = { release: '1.32', datastore: 'etcd', containerdBaseDir: 'srv/c' }), 'BUNDLE_INVALID'],
    ['an unknown k8s field', (m) => ((m.k8s as unknown as Record<string, unknown>).extra = true), 'BUNDLE_INVALID'],
    ['a platform that is not os/arch', (m) => (m.platforms = ['amd64']), 'BUNDLE_INVALID'],
    ['a negative entry size', (m) => (m.entries[1]!.size = -1), 'BUNDLE_INVALID'],
    ['an upper-case entry sha256', (m) => (m.entries[1]!.sha256 = 'A'.repeat(64)), 'BUNDLE_INVALID'],
    ['a createdAt that is not a date', (m) => (m.createdAt = 'yesterday'), 'BUNDLE_INVALID'],
    ['the sums not first', (m) => m.entries.reverse(), 'BUNDLE_INVALID'],
  ];
  it.each(cases)('%s', (_name, change, code) => expect(outcome(change)).toBe(code));

  it('names the field and what is wrong with it', () => {
    const m = manifest();
    m.snaps[0]!.name = '--help';
    expect(() => validateManifest(m)).toThrow(/^bundle manifest is malformed: \/snaps\/0\/name: "--help" is not a snap name like k8s or core22/);
  });

  it('holds the same lists as the code (releases, datastores)', () => {
    const k8s = manifestSchema.properties.k8s.properties;
    expect(k8s.release.enum).toEqual([...K8S_RELEASES]);
    expect(k8s.datastore.enum).toEqual([...K8S_DATASTORES]);
  });

  it('takes the entry paths entryPathProblem takes, and no other', () => {
    const pattern = new RegExp(manifestSchema.definitions.entryPath.pattern, 'u');
    const paths = [
      'a',
      'a/b.c',
      'snaps/k8s_1.snap',
      'x/127.0.0.1:5000/hosts.toml',
      'a+b@c=d',
      '_x',
      '../x',
      './x',
      'a/../b',
      'a//b',
      '/a',
      'a/',
      '.hidden',
      'a b',
      'a\nb',
      '',
      'é',
      'a'.repeat(101),
    ];
    for (const p of paths) expect(pattern.test(p) && p.length <= 100, p).toBe(entryPathProblem(p) === undefined);
  });
});

describe('the lock schema', () => {
  const good =
    'lockVersion: 1\nsnaps:\n  - name: k8s\n    channel: 1.32-classic/stable\n    revision: 3001\n    sha3-384: ' +
    'A'.repeat(64) +
    '\n    size: 10\nimages:\n  - ref: docker.io/library/nginx:1.27\n    digest: ' +
    DIGEST +
    '\nhosts:\n  - registry-1.docker.io\n';
  const cases: [string, string, string | undefined][] = [
    ['a lock as the bundler writes it', good, undefined],
    ['another lock version', good.replace('lockVersion: 1', 'lockVersion: 2'), 'airgap.lock.yaml:1:14: lockVersion: must be 1, got 2'],
    ['a digest that is not sha256', good.replace(DIGEST, 'md5:abc'), 'airgap.lock.yaml:10:13: images[0].digest: "md5:abc" is not sha256:<64 lower-case hex>'],
    ['a hostile snap name', good.replace('name: k8s', 'name: --help'), 'airgap.lock.yaml:3:11: snaps[0].name: "--help" is not a snap name like k8s or core22'],
    ['a snap without its size', good.replace('    size: 10\n', ''), 'airgap.lock.yaml:3:5: snaps[0]: missing required key "size"'],
    ['an unknown key', good.replace('lockVersion: 1', 'lockVersion: 1\nextra: x'), 'airgap.lock.yaml:2:1: extra: unknown key "extra"'],
    [
      'a host with a path',
      good.replace('registry-1.docker.io', 'evil.example/x'),
      'airgap.lock.yaml:12:5: hosts[0]: "evil.example/x" is not a host or host:port',
    ],
    ['YAML that does not parse', 'lockVersion: [1\n', 'airgap.lock.yaml:2:1: YAML:'],
    ['an alias', good.replace('hosts:\n  - registry-1.docker.io', 'hosts: &h [a]\nx: *h'), 'airgap.lock.yaml:1:1: YAML:'],
  ];
  it.each(cases)('%s', (_name, text, want) => {
    const r = validateLockText(text, 'airgap.lock.yaml');
    if (want === undefined) return expect(r.errors).toEqual([]);
    const first = r.errors[0];
    expect(r.value).toBeUndefined();
    expect(`${first?.file}:${first?.line}:${first?.column}: ${first?.path ? `${first.path}: ` : ''}${first?.message}`).toContain(want);
  });
});
