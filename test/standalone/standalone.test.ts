import { createHash, createPrivateKey, createPublicKey } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { fingerprintOf, generateSigningKeyPair, writeBundle, type BundleManifest } from '@airgap/core';
import { applierBinaries, type ApplierBinary } from '../../packages/bundler/src/applier-binaries.ts';
import { hashTree } from '../applier/node-env.ts';
import { cli } from '../support/cli.ts';
import { site, siteSpec } from '../support/site-fixture.ts';
import { testdir } from '../support/tmpdir.ts';

const repo = path.resolve(import.meta.dirname, '../..');
const HOSTS_TOML = 'server = "https://registry-1.docker.io"\n[host."https://mirror.internal:5000"]\n  capabilities = ["pull", "resolve"]\n';
const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');

let shared: string;
let bundle: string;
let pub: string;
let manifest: BundleManifest;
let binaries: ApplierBinary[];
let commit: string;

/** The documented checks of the extracted executable: the full one in the docs, the short one in the README's node quick start. */
const CHECKS = [
  {
    doc: 'docs/standalone-applier.md',
    marker: 'standalone-check',
    ok: ['Signature Verified Successfully', '1', '1', 'applier/linux-amd64/applier: OK'],
    altered: ['Signature Verified Successfully', '0'],
  },
  {
    doc: 'README.md',
    marker: 'node-check',
    ok: ['Signature Verified Successfully', '1', 'applier/linux-amd64/applier: OK'],
    altered: ['Signature Verified Successfully', '1', 'applier/linux-amd64/applier: FAILED'],
  },
];

/** The shell block between `<!-- MARKER:begin -->` and `<!-- MARKER:end -->` in `doc`, verbatim. */
async function documentedCheck(doc: string, marker: string): Promise<string> {
  const text = await readFile(path.join(repo, doc), 'utf8');
  const m = new RegExp(`<!-- ${marker}:begin -->\n\`\`\`sh\n([\\s\\S]*?)\`\`\`\n<!-- ${marker}:end -->`).exec(text);
  if (!m?.[1]) throw new Error(`no ${marker} block in ${doc}`);
  return m[1];
}

/** A node's folder holding bundle.tar and airgap.pub, with the amd64 applier extracted as the quick start says. */
async function nodeDir(): Promise<{ dir: string; applier: string; bin: string }> {
  const dir = await testdir();
  await copyFile(bundle, path.join(dir, 'bundle.tar'));
  await copyFile(pub, path.join(dir, 'airgap.pub'));
  await execa('tar', ['-xf', 'bundle.tar', 'applier/linux-amd64/applier'], { cwd: dir });
  // PATH for the applier: a folder with no node in it (and nothing else).
  const bin = path.join(dir, 'bin');
  await mkdir(bin);
  return { dir, applier: path.join(dir, 'applier/linux-amd64/applier'), bin };
}

/** Run a program the way `env -i PATH=<bin> program args` does: no inherited environment at all. */
function bare(bin: string, file: string, args: string[], cwd: string) {
  return execa('/usr/bin/env', ['-i', `PATH=${bin}`, file, ...args], { cwd, reject: false, timeout: 120_000 });
}

beforeAll(async () => {
  commit = (await execa('git', ['rev-parse', '--short=12', 'HEAD'], { cwd: repo })).stdout;
  binaries = await applierBinaries(['linux/amd64', 'linux/arm64']);
  shared = await mkdtemp(path.join(tmpdir(), 'airgap-standalone-'));
  const pair = generateSigningKeyPair();
  pub = path.join(shared, 'airgap.pub');
  await writeFile(pub, pair.publicPem);
  const written = await writeBundle({
    out: path.join(shared, 'bundle.tar'),
    key: createPrivateKey(pair.privatePem),
    manifest: {
      formatVersion: 1,
      name: 'standalone',
      createdAt: '2025-01-01T00:00:00.000Z',
      generator: 'test standalone',
      signer: fingerprintOf(createPublicKey(pair.publicPem)),
      specText: '',
      spec: { apiVersion: 'airgap/v1alpha1', kind: 'Bundle', metadata: { name: 'standalone' }, k8s: { channel: '1.34-classic/stable', snapd: true } },
      lock: { lockVersion: 1, snaps: [], images: [] },
      platforms: ['linux/amd64', 'linux/arm64'],
      snaps: [],
      images: [],
      containerd: { hostsDir: '/etc/containerd/hosts.d', files: [{ path: 'containerd/hosts.d/docker.io/hosts.toml', target: 'docker.io/hosts.toml' }] },
    },
    sources: [...binaries, { path: 'containerd/hosts.d/docker.io/hosts.toml', data: Buffer.from(HOSTS_TOML) }],
  });
  bundle = written.path;
  manifest = written.manifest;
}, 600_000);

afterAll(async () => {
  if (shared) await rm(shared, { recursive: true, force: true });
});

describe('the standalone applier', () => {
  test('is in the bundle at applier/<os>-<arch>/applier, 0755, hashed in the signed manifest', async () => {
    expect(binaries.map((b) => [b.platform, b.path, path.relative(repo, b.file)])).toEqual([
      ['linux/amd64', 'applier/linux-amd64/applier', 'dist/applier-linux-amd64'],
      ['linux/arm64', 'applier/linux-arm64/applier', 'dist/applier-linux-arm64'],
    ]);
    for (const b of binaries) {
      const entry = manifest.entries.find((e) => e.path === b.path);
      expect(entry).toEqual({ path: b.path, mode: 0o755, size: (await stat(b.file)).size, sha256: sha256(await readFile(b.file)) });
    }
  });

  test.each(CHECKS)('extracted with tar, it passes the openssl + sha256sum check in $doc', async ({ doc, marker, ok }) => {
    const { dir } = await nodeDir();
    const r = await execa('bash', ['-euo', 'pipefail', '-c', await documentedCheck(doc, marker)], { cwd: dir, reject: false, stdin: 'ignore' });
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
    expect(r.stdout.split('\n')).toEqual(ok);
    expect((await stat(path.join(dir, 'applier/linux-amd64/applier'))).mode & 0o777).toBe(0o755);
  });

  test.each(CHECKS)('the check in $doc refuses a bundle whose executable was altered', async ({ doc, marker, altered }) => {
    const { dir } = await nodeDir();
    const bytes = await readFile(path.join(dir, 'bundle.tar'));
    // The last bytes of the injected script: found first in the amd64 entry (entries are sorted by path).
    const at = bytes.indexOf((await readFile(path.join(repo, 'dist/applier.sea.cjs'))).subarray(-64));
    expect(at).toBeGreaterThan(0);
    bytes[at + 1] = bytes[at + 1]! ^ 0x20;
    await writeFile(path.join(dir, 'bundle.tar'), bytes);
    const r = await execa('bash', ['-euo', 'pipefail', '-c', await documentedCheck(doc, marker)], { cwd: dir, reject: false, stdin: 'ignore' });
    expect(r.exitCode).not.toBe(0);
    expect(r.stdout.split('\n')).toEqual(altered);
  });

  test('--version prints version and commit with no node on PATH and an empty environment', async () => {
    const { dir, applier, bin } = await nodeDir();
    const noNode = await execa('/usr/bin/env', ['-i', `PATH=${bin}`, '/bin/sh', '-c', 'command -v node || echo "no node"'], { reject: false });
    expect(noNode.stdout).toBe('no node');
    const pkg = JSON.parse(await readFile(path.join(repo, 'package.json'), 'utf8')) as { version: string };
    const r = await bare(bin, applier, ['--version'], dir);
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toBe(`applier ${pkg.version} (${commit})`);
  });

  test('verify: exit 0 on the bundle it came from, 2 on a tampered copy', async () => {
    const { dir, applier, bin } = await nodeDir();
    const ok = await bare(bin, applier, ['verify', 'bundle.tar', '--pub', 'airgap.pub'], dir);
    expect(ok.stderr).toBe('');
    expect(ok.exitCode).toBe(0);
    expect(ok.stdout).toContain(manifest.entries.length.toString());

    const bytes = await readFile(path.join(dir, 'bundle.tar'));
    const at = bytes.indexOf(Buffer.from('mirror.internal'));
    expect(at).toBeGreaterThan(0);
    bytes[at] = 'M'.charCodeAt(0);
    await writeFile(path.join(dir, 'tampered.tar'), bytes);
    const bad = await bare(bin, applier, ['verify', 'tampered.tar', '--pub', 'airgap.pub'], dir);
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toMatch(/^error\[DIGEST_MISMATCH\]: .*containerd\/hosts\.d\/docker\.io\/hosts\.toml/m);
    expect(bad.stdout).toBe('');
  });

  test('plan --root DIR: shows the change and writes nothing', async () => {
    const { dir, applier, bin } = await nodeDir();
    // What every Ubuntu node has: `ip` (preflight reads the default route) and snapd. The suite's
    // fake `snap` is a node script, so here a shell one that knows `snap version` and nothing else.
    await symlink((await execa('sh', ['-c', 'command -v ip'])).stdout, path.join(bin, 'ip'));
    await writeFile(
      path.join(bin, 'snap'),
      '#!/bin/sh\n[ "$*" = version ] || { echo "fake snap: only version" >&2; exit 64; }\necho "snap    2.66.1"\necho "snapd   2.66.1"\n',
      { mode: 0o755 },
    );
    const root = path.join(dir, 'root');
    await mkdir(path.join(root, 'etc'), { recursive: true });
    const before = await hashTree(root);
    const r = await bare(bin, applier, ['plan', 'bundle.tar', '--pub', 'airgap.pub', '--root', root], dir);
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
    expect(r.stdout).not.toContain('snapd is not usable');
    expect(r.stdout).toMatch(/^change +containerd-hosts .*\n +write \/etc\/containerd\/hosts\.d\/docker\.io\/hosts\.toml \(missing\)$/m);
    expect(r.stdout).toMatch(/^skip +snaps +the bundle has no snaps$/m);
    expect(await hashTree(root)).toEqual(before);
  });

  test('arm64: an aarch64 ELF executable carrying the same applier', async () => {
    const arm = await readFile(path.join(repo, 'dist/applier-linux-arm64'));
    // e_ident: \x7fELF, 64-bit, little-endian; e_machine (offset 18) 183 = EM_AARCH64.
    expect([...arm.subarray(0, 6)]).toEqual([0x7f, 0x45, 0x4c, 0x46, 2, 1]);
    expect(arm.readUInt16LE(18)).toBe(183);
    const amd = await readFile(path.join(repo, 'dist/applier-linux-amd64'));
    expect(amd.readUInt16LE(18)).toBe(62); // EM_X86_64
    // postject flipped the SEA fuse in both, and both carry the same CommonJS applier.
    const script = (await readFile(path.join(repo, 'dist/applier.sea.cjs'))).subarray(-4096);
    for (const exe of [arm, amd]) {
      expect(exe.includes('NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2:1')).toBe(true);
      expect(exe.includes(script)).toBe(true);
    }
  });

  test('holds no test hook: no AIRGAP_TEST string in either executable, its script or dist/applier.mjs (the kill tests use dist/applier-test.mjs)', async () => {
    const files = [...binaries.map((b) => b.file), path.join(repo, 'dist/applier.sea.cjs'), path.join(repo, 'dist/applier.mjs')];
    for (const file of files)
      expect({ file: path.relative(repo, file), hook: (await readFile(file)).includes('AIRGAP_TEST') }).toEqual({
        file: path.relative(repo, file),
        hook: false,
      });
    // The check itself can see a hook: the test build carries one.
    expect((await readFile(path.join(repo, 'dist/applier-test.mjs'))).includes('AIRGAP_TEST_PAUSE_AT')).toBe(true);
  });

  test('reproducible: a forced rebuild gives the same bytes; an up-to-date one is left alone', async () => {
    const amd = binaries[0]!;
    const first = sha256(await readFile(amd.file));
    const mtime = (await stat(amd.file)).mtimeMs;
    await applierBinaries(['linux/amd64']);
    expect((await stat(amd.file)).mtimeMs).toBe(mtime);
    await execa(process.execPath, ['scripts/build-sea.mjs', '--platform', 'linux/amd64', '--force'], { cwd: repo });
    expect(sha256(await readFile(amd.file))).toBe(first);
  });
});

/*
 * `bundler build` carries the applier by default. The other suites build with --no-applier (each
 * default build runs scripts/build-sea.mjs and adds about 100 MB per platform to the bundle);
 * these tests are the ones that build the default way.
 */
describe('bundler build with the standalone applier (the default)', () => {
  interface Inspected {
    platforms: string[];
    files: { path: string }[];
    appliers: { platform: string; path: string; size: number; sha256: string }[];
  }

  test('puts applier/linux-amd64/applier in the bundle, 0755, its sha256 in the signed manifest equal to sha256sum of the extracted file', async () => {
    const dir = await site();
    const r = await cli('bundler', ['build', 'airgap.yaml', '-o', 'bundle.tar', '--key', 'keys/site.key'], { cwd: dir, timeout: 600_000 });
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(/^applier:\n {2}linux\/amd64 +applier\/linux-amd64\/applier {2}\d+\.\d MiB {2}sha256:[a-f0-9]{64}$/m);
    expect((await cli('bundler', ['verify', 'bundle.tar', '--pub', 'keys/site.pub'], { cwd: dir })).exitCode).toBe(0);

    const inspected = JSON.parse((await cli('bundler', ['inspect', 'bundle.tar', '--json'], { cwd: dir })).stdout) as Inspected;
    expect(inspected.platforms).toEqual(['linux/amd64']);
    expect(inspected.files.filter((f) => f.path.startsWith('applier/')).map((f) => f.path)).toEqual(['applier/linux-amd64/applier']);

    await execa('tar', ['-xf', 'bundle.tar', 'airgap/manifest.json', 'applier/linux-amd64/applier'], { cwd: dir });
    const exe = path.join(dir, 'applier/linux-amd64/applier');
    expect((await stat(exe)).mode & 0o777).toBe(0o755);
    // The manifest `verify` just accepted, read back from the tar: its entry against coreutils' sha256sum.
    const signed = JSON.parse(await readFile(path.join(dir, 'airgap/manifest.json'), 'utf8')) as BundleManifest;
    const entry = signed.entries.find((e) => e.path === 'applier/linux-amd64/applier');
    const sum = (await execa('sha256sum', ['applier/linux-amd64/applier'], { cwd: dir })).stdout.slice(0, 64);
    expect(entry).toEqual({ path: 'applier/linux-amd64/applier', mode: 0o755, size: (await stat(exe)).size, sha256: sum });
    expect(inspected.appliers).toEqual([{ platform: 'linux/amd64', path: 'applier/linux-amd64/applier', size: entry?.size, sha256: sum }]);
    // It is the executable build-sea made for this commit, and it runs.
    expect(sum).toBe(sha256(await readFile(path.join(repo, 'dist/applier-linux-amd64'))));
    const pkg = JSON.parse(await readFile(path.join(repo, 'package.json'), 'utf8')) as { version: string };
    expect((await execa(exe, ['--version'])).stdout).toBe(`applier ${pkg.version} (${commit})`);
  }, 600_000);

  test('follows images.platforms: an arm64-only bundle carries only applier/linux-arm64/applier', async () => {
    const dir = await site();
    await writeFile(
      path.join(dir, 'airgap.yaml'),
      siteSpec().replace('images: {k8sFeatures: false}', 'images: {k8sFeatures: false, platforms: [linux/arm64]}'),
    );
    const r = await cli('bundler', ['build', 'airgap.yaml', '-o', 'bundle.tar', '--key', 'keys/site.key'], { cwd: dir, timeout: 600_000 });
    expect(r.exitCode).toBe(0);
    const inspected = JSON.parse((await cli('bundler', ['inspect', 'bundle.tar', '--json'], { cwd: dir })).stdout) as Inspected;
    expect(inspected.appliers.map((a) => [a.platform, a.path])).toEqual([['linux/arm64', 'applier/linux-arm64/applier']]);
    expect(inspected.appliers[0]?.sha256).toBe(sha256(await readFile(path.join(repo, 'dist/applier-linux-arm64'))));
  }, 600_000);

  test('a platform with no standalone applier is refused before anything is written; --no-applier builds it', async () => {
    const dir = await site();
    await writeFile(
      path.join(dir, 'airgap.yaml'),
      siteSpec().replace('images: {k8sFeatures: false}', 'images: {k8sFeatures: false, platforms: [linux/s390x]}'),
    );
    const r = await cli('bundler', ['build', 'airgap.yaml', '-o', 'bundle.tar', '--key', 'keys/site.key'], { cwd: dir });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain('error[PLATFORM_NOT_FOUND]: no standalone applier for platform linux/s390x');
    expect(r.stderr).toContain('use --no-applier to leave it out');
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect((await readdir(dir)).filter((n) => n.includes('bundle.tar') || n === 'airgap.lock.yaml')).toEqual([]);
    const without = await cli('bundler', ['build', 'airgap.yaml', '-o', 'bundle.tar', '--key', 'keys/site.key', '--no-applier'], { cwd: dir });
    expect(without.exitCode).toBe(0);
    expect((JSON.parse((await cli('bundler', ['inspect', 'bundle.tar', '--json'], { cwd: dir })).stdout) as Inspected).appliers).toEqual([]);
  });
});
