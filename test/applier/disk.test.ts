import { mkdir, rm, statfs } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { diskProblems, formatDiskUse, groupByFileSystem, type DiskNeed, type DiskUse } from '../../packages/applier/src/disk-plan.ts';
import { testdir } from '../support/tmpdir.ts';
import { makeBundle, type BundleFixtureOptions } from '../support/bundle-fixture.ts';
import { fillTmpfs, FILLER, mountTmpfs } from '../support/tmpfs.ts';
import { hashTree, makeNode, type TestNode } from './node-env.ts';

const KiB = 1024;
const MiB = 1024 * KiB;

/** One image of 2 MiB (an uncompressed tar layer: its unpacked size is its own) and the usual small files. */
const BUNDLE: Omit<BundleFixtureOptions, 'dir'> = {
  hosts: { 'docker.io/hosts.toml': 'server = "https://registry-1.docker.io"\n' },
  images: [
    { ref: 'docker.io/library/hello:1.0', files: { 'hello.txt': 'hello\n' } },
    { ref: 'docker.io/library/big:1.0', files: { 'big.bin': 'big data\n'.repeat((2 * MiB) / 9) } },
  ],
  proxy: { http: 'http://proxy:3128', noProxy: [] },
  bootstrap: 'cluster-config:\n  network:\n    enabled: true\n',
};

const applyArgs = (b: { file: string; pubFile: string }) => [b.file, '--pub', b.pubFile];
const installs = async (node: TestNode) => (await node.calls()).filter((c) => /^snap (ack|install)/.test(c));

async function smallDisks(node: TestNode, mounts: Record<string, number>): Promise<void> {
  for (const [dir, bytes] of Object.entries(mounts)) {
    await mkdir(path.join(node.root, dir), { recursive: true });
    await mountTmpfs(path.join(node.root, dir), bytes);
  }
}

describe('disk space per file system (preflight)', () => {
  const REFUSED: {
    name: string;
    bundle?: Partial<BundleFixtureOptions>;
    mounts: Record<string, number>;
    /** The file system named, and a path on it that the refusal lists. */
    refused: string;
    lists: string;
  }[] = [
    {
      name: "/var small, / big: the side-load tars and containerd's root are on /var",
      mounts: { var: 4 * MiB },
      refused: '/var',
      lists: '/var/snap/k8s/common/images',
    },
    {
      name: "containerd's root on a tmpfs of its own (k8s 1.34, classic: /var/lib/containerd)",
      mounts: { 'var/lib/containerd': 3 * MiB },
      refused: '/var/lib/containerd',
      lists: '/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs',
    },
    {
      name: "1.36 with containerd-base-dir: containerd's root and hosts dir under that base",
      bundle: { release: '1.36', containerdBaseDir: '/srv/k8s-containerd' },
      mounts: { srv: 3 * MiB },
      refused: '/srv',
      lists: '/srv/k8s-containerd/var/lib/containerd/io.containerd.content.v1.content',
    },
    {
      name: "snapd's blob folder on a tiny file system: each snap, plus snapd's upload copy",
      mounts: { 'var/lib/snapd': 8 * KiB },
      refused: '/var/lib/snapd',
      lists: '/var/lib/snapd/snaps',
    },
  ];
  test.each(REFUSED)('$name: refused before any change, the file system named', async (c) => {
    const node = await makeNode();
    const b = await makeBundle({ dir: node.work, ...BUNDLE, ...c.bundle });
    await smallDisks(node, c.mounts);
    const before = await hashTree(node.root);

    // plan shows the table, the short file system marked; --json carries the same rows.
    const plan = await node.applier(['plan', ...applyArgs(b)]);
    expect(plan.exitCode, plan.stderr).toBe(0);
    const row = plan.stdout.split('\n').find((l) => l.trimStart().startsWith(`${c.refused} `));
    expect(row, plan.stdout).toMatch(/\(too small\)$/);
    expect(row).toContain(c.lists);
    const json = JSON.parse((await node.applier(['plan', ...applyArgs(b), '--json'])).stdout) as { steps: { id: string; disk?: DiskUse[] }[] };
    const short = json.steps[0]!.disk!.find((d) => d.mount === c.refused)!;
    expect(short.needBytes).toBeGreaterThan(short.freeBytes);
    const fs = await statfs(path.join(node.root, c.refused));
    expect(short.freeBytes).toBe(fs.bavail * fs.bsize);

    const r = await node.applier(['apply', ...applyArgs(b)]);
    expect(r.exitCode, r.stderr).toBe(2);
    const [message, hint] = r.stderr.trim().split('\n');
    expect(message).toMatch(
      new RegExp(
        `^error\\[DISK_SPACE\\]: preflight: not enough space on ${c.refused} \\(for [^)]*${c.lists}[^)]*\\): the apply writes about [0-9.]+ [KM]iB there, [0-9.]+ [KM]?i?B is free$`,
      ),
    );
    expect(hint).toMatch(new RegExp(`^hint: free [0-9.]+ [KM]?i?B or more on ${c.refused} .*nothing was changed$`));
    // Nothing changed: the tree as it was, no snap acked or installed.
    expect(await hashTree(node.root)).toEqual(before);
    expect(await installs(node)).toEqual([]);
  });

  test('enough space: the apply writes no more than the estimate; a converged node needs (almost) nothing again', async () => {
    const node = await makeNode();
    const b = await makeBundle({ dir: node.work, ...BUNDLE });
    const varDir = path.join(node.root, 'var');
    await smallDisks(node, { var: 16 * MiB });
    const free = async () => {
      const fs = await statfs(varDir);
      return fs.bavail * fs.bsize;
    };
    const planned = async () => {
      const plan = JSON.parse((await node.applier(['plan', ...applyArgs(b), '--json'])).stdout) as { steps: { disk?: DiskUse[] }[] };
      return plan.steps[0]!.disk!;
    };
    const onVar = (await planned()).find((d) => d.mount === '/var')!;
    const freeBefore = await free();
    const r = await node.applier(['apply', ...applyArgs(b)]);
    expect(r.exitCode, r.stderr).toBe(0);
    // containerd is not running here: the images are side-loaded, and containerd's share is still to come.
    const written = freeBefore - (await free());
    expect(written).toBeGreaterThan(2 * MiB);
    expect(written).toBeLessThanOrEqual(onVar.needBytes);

    // Converged: images side-loaded, snaps at the bundle's revision, files in place. Only the
    // state file is left to write, so a nearly full /var still takes the same bundle again.
    const again = await planned();
    expect(again.flatMap((d) => d.needs.map((n) => n.path))).toEqual(['/var/lib/airgap']);
    await fillTmpfs(varDir, 64 * KiB);
    const rerun = await node.applier(['apply', ...applyArgs(b)]);
    expect(rerun.exitCode, rerun.stderr).toBe(0);
    await rm(path.join(varDir, FILLER));
  });
});

describe('needs per file system', () => {
  const need = (p: string, bytes: number, temp?: string): DiskNeed => ({ path: p, bytes, why: p, ...(temp ? { temp } : {}) });
  const CASES: [string, DiskNeed[], number][] = [
    ['lasting needs add up', [need('/etc/a', 4096), need('/var/lib/airgap', 8192)], 12288],
    [
      "a snap's two copies exist at once; the snaps install one after the other",
      [
        need('/var/lib/snapd/snaps', 4096),
        need('/var/lib/airgap/tmp', 8192, 'k8s'),
        need('/var/lib/snapd/snaps', 8192, 'k8s'),
        need('/var/lib/snapd/snaps', 4096, 'core22'),
      ],
      4096 + 16384,
    ],
    ['nothing to write: no row', [need('/etc/a', 0)], 0],
  ];
  test.each(CASES)('%s', async (_name, needs, bytes) => {
    // One file system (the test's own), paths that do not exist yet: their nearest existing ancestor counts.
    const rows = await groupByFileSystem(await testdir(), needs);
    expect(rows.reduce((n, r) => n + r.needBytes, 0)).toBe(bytes);
    expect(rows.map((r) => r.mount)).toEqual(bytes > 0 ? ['/'] : []);
  });
});

describe('diskProblems and the plan table', () => {
  const row = (mount: string, needBytes: number, freeBytes: number, paths = [mount]): DiskUse => ({ mount, paths, needBytes, freeBytes, needs: [] });
  const CASES: [string, DiskUse[], string[]][] = [
    ['every file system fits', [row('/', 1 * MiB, 2 * MiB), row('/var', 3 * MiB, 3 * MiB)], []],
    ['one short', [row('/', 1 * MiB, 2 * MiB), row('/var', 3 * MiB + 1, 3 * MiB)], ['disk /var']],
    ['two short, in mount order', [row('/srv', 2, 1), row('/var/lib/containerd', 5 * MiB, 0)], ['disk /srv', 'disk /var/lib/containerd']],
  ];
  test.each(CASES)('%s', (_name, rows, about) => {
    expect(diskProblems(rows).map((p) => p.about)).toEqual(about);
  });

  test('a problem names the file system, its paths, the need, the free space and what to do', () => {
    const [p] = diskProblems([row('/var', 5 * MiB, 1 * MiB, ['/var/lib/containerd/io.containerd.content.v1.content', '/var/lib/snapd/snaps'])]);
    expect(p?.why).toBe(
      'not enough space on /var (for /var/lib/containerd/io.containerd.content.v1.content, /var/lib/snapd/snaps): the apply writes about 5.0 MiB there, 1.0 MiB is free',
    );
    expect(p?.hint).toMatch(/^free 4\.0 MiB or more on \/var /);
  });

  test('the table: one line per file system, the short one marked', () => {
    expect(
      formatDiskUse([
        row('/', 12 * KiB, 40 * 1024 * MiB, ['/etc/containerd/hosts.d/docker.io/hosts.toml', '/var/lib/airgap']),
        row('/var/lib/containerd', 6 * MiB, 3 * MiB),
      ]),
    ).toEqual([
      '         file system                need        free  paths',
      '         /                      12.0 KiB    40.0 GiB  /etc/containerd/hosts.d/docker.io/hosts.toml, /var/lib/airgap',
      '         /var/lib/containerd     6.0 MiB     3.0 MiB  /var/lib/containerd  (too small)',
    ]);
    expect(formatDiskUse([])).toEqual([]);
  });
});
