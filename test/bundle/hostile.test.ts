import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { recordFigures } from '../hardening/report.ts';
import { canonicalJson, encodeHeader, isAirgapError, signManifest, verifyBundle, type BundleManifest } from '@airgap/core';
import { testdir } from '../support/tmpdir.ts';
import { baseManifest, makeKeys } from './bundle-helpers.ts';
import { createHash } from 'node:crypto';

const MTIME = Date.parse('2024-01-01T00:00:00.000Z') / 1000;
const pad = (n: number) => Buffer.alloc((512 - (n % 512)) % 512);
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

interface RawEntry {
  name: string;
  data: Buffer;
  /** Overwrite the type flag ('2' symlink, '1' hard link, '3' char device, '5' directory). */
  type?: string;
}

/** A tar signed by a TRUSTED key whose content is hostile: the signer is trusted, the content is not. */
function craft(keys: ReturnType<typeof makeKeys>, manifest: BundleManifest, entries: RawEntry[]): Buffer {
  const manifestBytes = Buffer.from(canonicalJson(manifest));
  const sig = signManifest(manifestBytes, keys.privateKey);
  const parts: Buffer[] = [];
  const add = (name: string, data: Buffer, mode = 0o644, type?: string) => {
    const h = encodeHeader({ name, size: data.length, mode, mtime: MTIME });
    if (type) {
      h[156] = type.charCodeAt(0);
      h.fill(0x20, 148, 156);
      let sum = 0;
      for (const b of h) sum += b;
      h.write(`${sum.toString(8).padStart(6, '0')}\u0000 `, 148, 'latin1');
    }
    parts.push(h, data, pad(data.length));
  };
  add('airgap/manifest.json', manifestBytes);
  add('airgap/manifest.sig', sig);
  for (const e of entries) add(e.name, e.data, 0o644, e.type);
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

function manifestWith(keys: ReturnType<typeof makeKeys>, entries: { path: string; data: Buffer }[], patch: Partial<BundleManifest> = {}): BundleManifest {
  const sums = Buffer.from(entries.map((e) => `${sha(e.data)}  ${e.path}\n`).join(''));
  return {
    ...baseManifest(keys.publicKey.fingerprint),
    containerd: { hostsDir: '/etc/containerd/hosts.d', files: [] },
    entries: [
      { path: 'airgap/SHA256SUMS', size: sums.length, sha256: sha(sums), mode: 0o644 },
      ...entries.map((e) => ({ path: e.path, size: e.data.length, sha256: sha(e.data), mode: 0o644 })),
    ],
    ...patch,
  };
}

const sumsOf = (entries: { path: string; data: Buffer }[]) => Buffer.from(entries.map((e) => `${sha(e.data)}  ${e.path}\n`).join(''));

/**
 * A bundle carrying one snap whole (entries, digests, sums all right) under `name`: refused only
 * if the schema checks the name, which reaches `snap` command lines.
 */
function carriedSnap(keys: ReturnType<typeof makeKeys>, name: string): [BundleManifest, RawEntry[]] {
  const files = [
    { path: 'snaps/s_1.snap', data: Buffer.from('snap') },
    { path: 'snaps/s_1.assert', data: Buffer.from('assert') },
  ];
  const sha3 = createHash('sha3-384').update(files[0]!.data).digest('base64url');
  const snap = {
    name,
    role: 'extra' as const,
    revision: 1,
    channel: 'latest/stable',
    classic: false,
    sha3_384: sha3,
    size: 4,
    snapPath: files[0]!.path,
    assertPath: files[1]!.path,
  };
  return [
    manifestWith(keys, files, { snaps: [snap] }),
    [{ name: 'airgap/SHA256SUMS', data: sumsOf(files) }, ...files.map((f) => ({ name: f.path, data: f.data }))],
  ];
}

async function refusal(dir: string, keys: ReturnType<typeof makeKeys>, bytes: Buffer): Promise<string> {
  const file = path.join(dir, `hostile-${Math.random().toString(16).slice(2)}.tar`);
  await writeFile(file, bytes);
  try {
    await verifyBundle(file, { keys: [keys.publicKey] });
    return 'ACCEPTED';
  } catch (err) {
    if (isAirgapError(err)) return err.code;
    throw err;
  }
}

describe('validly signed but hostile bundles are refused', () => {
  const data = Buffer.from('evil');
  const cases: [string, (k: ReturnType<typeof makeKeys>) => Buffer, string][] = [
    [
      'entry path with ..',
      (k) => {
        const e = [{ path: '../evil', data }];
        return craft(k, manifestWith(k, e), [
          { name: 'airgap/SHA256SUMS', data: sumsOf(e) },
          { name: '../evil', data },
        ]);
      },
      'PATH_TRAVERSAL',
    ],
    [
      'absolute entry path',
      (k) => {
        const e = [{ path: '/etc/cron.d/evil', data }];
        return craft(k, manifestWith(k, e), [
          { name: 'airgap/SHA256SUMS', data: sumsOf(e) },
          { name: '/etc/cron.d/evil', data },
        ]);
      },
      'PATH_TRAVERSAL',
    ],
    [
      'a file listed twice',
      (k) => {
        const e = [
          { path: 'a/x', data },
          { path: 'a/x', data },
        ];
        return craft(k, manifestWith(k, e), [
          { name: 'airgap/SHA256SUMS', data: sumsOf(e) },
          { name: 'a/x', data },
          { name: 'a/x', data },
        ]);
      },
      'BUNDLE_INVALID',
    ],
    [
      'symlink where a file is listed',
      (k) => {
        const e = [{ path: 'a/x', data }];
        return craft(k, manifestWith(k, e), [
          { name: 'airgap/SHA256SUMS', data: sumsOf(e) },
          { name: 'a/x', data, type: '2' },
        ]);
      },
      'BUNDLE_INVALID',
    ],
    [
      'hard link where a file is listed',
      (k) => {
        const e = [{ path: 'a/x', data }];
        return craft(k, manifestWith(k, e), [
          { name: 'airgap/SHA256SUMS', data: sumsOf(e) },
          { name: 'a/x', data, type: '1' },
        ]);
      },
      'BUNDLE_INVALID',
    ],
    [
      'device file where a file is listed',
      (k) => {
        const e = [{ path: 'a/x', data }];
        return craft(k, manifestWith(k, e), [
          { name: 'airgap/SHA256SUMS', data: sumsOf(e) },
          { name: 'a/x', data, type: '3' },
        ]);
      },
      'BUNDLE_INVALID',
    ],
    [
      'an entry not in the manifest',
      (k) => {
        const e = [{ path: 'a/x', data }];
        return craft(k, manifestWith(k, e), [
          { name: 'airgap/SHA256SUMS', data: sumsOf(e) },
          { name: 'a/x', data },
          { name: 'a/y', data },
        ]);
      },
      'BUNDLE_INVALID',
    ],
    [
      'a different name in the entry slot',
      (k) => {
        const e = [{ path: 'a/x', data }];
        return craft(k, manifestWith(k, e), [
          { name: 'airgap/SHA256SUMS', data: sumsOf(e) },
          { name: 'a/z', data },
        ]);
      },
      'BUNDLE_INVALID',
    ],
    [
      'huge declared size',
      (k) => {
        const e = [{ path: 'a/x', data }];
        const m = manifestWith(k, e);
        m.entries[1]!.size = 2 ** 50;
        return craft(k, m, [
          { name: 'airgap/SHA256SUMS', data: sumsOf(e) },
          { name: 'a/x', data },
        ]);
      },
      'BUNDLE_INVALID',
    ],
    [
      'hosts.toml target outside the hosts dir',
      (k) => {
        const e = [{ path: 'containerd/hosts.d/x/hosts.toml', data }];
        return craft(
          k,
          manifestWith(k, e, {
            containerd: { hostsDir: '/etc/containerd/hosts.d', files: [{ path: 'containerd/hosts.d/x/hosts.toml', target: '../../cron.d/evil' }] },
          }),
          [
            { name: 'airgap/SHA256SUMS', data: sumsOf(e) },
            { name: 'containerd/hosts.d/x/hosts.toml', data },
          ],
        );
      },
      'PATH_TRAVERSAL',
    ],
    [
      'hosts dir that is not absolute',
      (k) => craft(k, manifestWith(k, [], { containerd: { hostsDir: 'etc/../..', files: [] } }), [{ name: 'airgap/SHA256SUMS', data: sumsOf([]) }]),
      'BUNDLE_INVALID',
    ],
    [
      'snap referenced but not carried',
      (k) =>
        craft(
          k,
          manifestWith(k, [], {
            snaps: [
              { name: 'k8s', role: 'k8s', revision: 1, classic: true, sha3_384: 'x', size: 1, snapPath: 'snaps/k8s_1.snap', assertPath: 'snaps/k8s_1.assert' },
            ],
          }),
          [{ name: 'airgap/SHA256SUMS', data: sumsOf([]) }],
        ),
      'BUNDLE_INVALID',
    ],
    [
      'unknown format version',
      (k) => craft(k, { ...manifestWith(k, []), formatVersion: 2 as 1 }, [{ name: 'airgap/SHA256SUMS', data: sumsOf([]) }]),
      'BUNDLE_INVALID',
    ],
    [
      'image name that is not a reference',
      (k) =>
        craft(
          k,
          manifestWith(k, [], {
            images: [
              { ref: 'docker.io/library/x:1 --all-platforms', digest: `sha256:${'a'.repeat(64)}`, mediaType: 'application/vnd.oci.image.manifest.v1+json' },
            ],
          }),
          [{ name: 'airgap/SHA256SUMS', data: sumsOf([]) }],
        ),
      'BUNDLE_INVALID',
    ],
    [
      'image name with a path escape',
      (k) =>
        craft(
          k,
          manifestWith(k, [], {
            images: [{ ref: '../../etc/passwd:1', digest: `sha256:${'a'.repeat(64)}`, mediaType: 'application/vnd.oci.image.manifest.v1+json' }],
          }),
          [{ name: 'airgap/SHA256SUMS', data: sumsOf([]) }],
        ),
      'BUNDLE_INVALID',
    ],
    [
      'image digest that is not sha256',
      (k) =>
        craft(
          k,
          manifestWith(k, [], { images: [{ ref: 'docker.io/library/x:1', digest: 'md5:abc', mediaType: 'application/vnd.oci.image.manifest.v1+json' }] }),
          [{ name: 'airgap/SHA256SUMS', data: sumsOf([]) }],
        ),
      'BUNDLE_INVALID',
    ],
    [
      'executable mode other than 0644/0755',
      (k) => {
        const e = [{ path: 'a/x', data }];
        const m = manifestWith(k, e);
        m.entries[1]!.mode = 0o4755;
        return craft(k, m, [
          { name: 'airgap/SHA256SUMS', data: sumsOf(e) },
          { name: 'a/x', data },
        ]);
      },
      'BUNDLE_INVALID',
    ],
    ...['--help', '../x', 'k8s x'].map((name): [string, (k: ReturnType<typeof makeKeys>) => Buffer, string] => [
      `snap name ${JSON.stringify(name)}`,
      (k) => craft(k, ...carriedSnap(k, name)),
      'BUNDLE_INVALID',
    ]),
  ];

  const refused: Record<string, string> = {};
  // Only a run that tried every case (not a filtered one) reports figures.
  afterAll(
    async () =>
      Object.keys(refused).length === cases.length &&
      (await recordFigures('hostileBundles', { cases: cases.length, refused: Object.keys(refused).length, ...refused })),
  );

  it.each(cases)('%s', async (name, make, code) => {
    const dir = await testdir();
    const keys = makeKeys();
    expect(await refusal(dir, keys, make(keys))).toBe(code);
    refused[name] = code;
  });

  it('a carried snap with a plain name is accepted (control for the snap-name cases)', async () => {
    const dir = await testdir();
    const keys = makeKeys();
    expect(await refusal(dir, keys, craft(keys, ...carriedSnap(keys, 'helm')))).toBe('ACCEPTED');
  });

  it('the crafting itself yields an accepted bundle when nothing is hostile (control)', async () => {
    const dir = await testdir();
    const keys = makeKeys();
    const e = [{ path: 'a/x', data }];
    expect(
      await refusal(
        dir,
        keys,
        craft(keys, manifestWith(keys, e), [
          { name: 'airgap/SHA256SUMS', data: sumsOf(e) },
          { name: 'a/x', data },
        ]),
      ),
    ).toBe('ACCEPTED');
  });
});
