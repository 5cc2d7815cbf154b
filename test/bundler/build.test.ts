import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { parse as parseToml } from 'smol-toml';
import { describe, expect, it } from 'vitest';
import { cli } from '../support/cli.ts';
import { makeSnap } from '../support/snap-fixture.ts';
import { site, siteSpec as specText, TEST_CA as CA } from '../support/site-fixture.ts';

const storeBin = path.resolve(import.meta.dirname, '../fixtures/store-bin');
const EPOCH = { SOURCE_DATE_EPOCH: '1700000000' };

describe('bundler build', () => {
  it('builds a signed bundle that verifies on both sides, byte-identical when rebuilt', async () => {
    const dir = await site();
    const a = await cli('bundler', ['build', 'airgap.yaml', '-o', 'a.tar', '--key', 'keys/site.key', '--no-applier'], { cwd: dir, env: EPOCH });
    expect(a.stderr).toBe('');
    expect(a.exitCode).toBe(0);
    expect(a.stdout).toContain('wrote a.tar');
    expect(a.stdout).toContain('updated');
    const b = await cli('bundler', ['build', 'airgap.yaml', '-o', 'b.tar', '--key', 'keys/site.key', '--no-applier'], { cwd: dir, env: EPOCH });
    expect(b.exitCode).toBe(0);
    expect(b.stdout).toContain('unchanged');
    expect((await readFile(path.join(dir, 'a.tar'))).equals(await readFile(path.join(dir, 'b.tar')))).toBe(true);
    for (const tool of ['bundler', 'applier'] as const) {
      const v = await cli(tool, ['verify', 'a.tar', '--pub', 'keys/site.pub'], { cwd: dir });
      expect(v.exitCode).toBe(0);
      expect(v.stdout).toMatch(/^OK a\.tar/);
    }
    const other = await cli('bundler', ['keygen', '--out', 'keys/other'], { cwd: dir });
    expect(other.exitCode).toBe(0);
    const bad = await cli('applier', ['verify', 'a.tar', '--pub', 'keys/other.pub'], { cwd: dir });
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toContain('error[SIGNATURE_INVALID]');
  });

  it('inspect lists spec name, signer, snaps in install order, files and sizes', async () => {
    const dir = await site();
    expect((await cli('bundler', ['build', 'airgap.yaml', '-o', 'a.tar', '--key', 'keys/site.key', '--no-applier'], { cwd: dir })).exitCode).toBe(0);
    const r = await cli('bundler', ['inspect', 'a.tar', '--json'], { cwd: dir });
    expect(r.exitCode).toBe(0);
    const j = JSON.parse(r.stdout) as {
      name: string;
      signer: string;
      snaps: { name: string; revision: number; role: string }[];
      files: { path: string; size: number }[];
      appliers: unknown[];
      hostsDir: string;
    };
    expect(j.name).toBe('test-site');
    expect(j.signer).toMatch(/^SHA256:/);
    expect(j.snaps.map((s) => `${s.name}_${s.revision}:${s.role}`)).toEqual(['snapd_10:snapd', 'core20_20:base', 'k8s_30:k8s']);
    expect(j.files.map((f) => f.path)).toEqual([
      'airgap/SHA256SUMS',
      'airgap/sbom.cdx.json',
      'config/bootstrap.yaml',
      'containerd/hosts.d/docker.io/ca-10.100.100.100_5000.crt',
      'containerd/hosts.d/docker.io/hosts.toml',
      'containerd/hosts.d/registry.k8s.io/ca-10.100.100.100_5000.crt',
      'containerd/hosts.d/registry.k8s.io/hosts.toml',
      'snaps/core20_20.assert',
      'snaps/core20_20.snap',
      'snaps/k8s_30.assert',
      'snaps/k8s_30.snap',
      'snaps/snapd_10.assert',
      'snaps/snapd_10.snap',
    ]);
    expect(j.hostsDir).toBe('/etc/containerd/hosts.d');
    // --no-applier: no applier/ entries (the default, with them, is in test/standalone).
    expect(j.appliers).toEqual([]);
    const text = await cli('bundler', ['inspect', 'a.tar'], { cwd: dir });
    expect(text.stdout).toContain('k8s          rev 30       k8s    classic');
    expect(text.stdout).toMatch(/^applier: none$/m);
  });

  it('renders hosts.toml that parses back, with the real upstream as server and mirrors in order', async () => {
    const dir = await site();
    expect((await cli('bundler', ['build', 'airgap.yaml', '-o', 'a.tar', '--key', 'keys/site.key', '--no-applier'], { cwd: dir })).exitCode).toBe(0);
    await execa('tar', ['-xf', 'a.tar', 'containerd'], { cwd: dir });
    const docker = parseToml(await readFile(path.join(dir, 'containerd/hosts.d/docker.io/hosts.toml'), 'utf8')) as {
      server: string;
      host: Record<string, Record<string, unknown>>;
    };
    expect(docker.server).toBe('https://registry-1.docker.io');
    expect(Object.keys(docker.host)).toEqual(['https://10.100.100.100:5000', 'http://192.168.1.9:5000']);
    expect(docker.host['https://10.100.100.100:5000']).toEqual({
      capabilities: ['pull', 'resolve'],
      ca: '/etc/containerd/hosts.d/docker.io/ca-10.100.100.100_5000.crt',
    });
    expect(docker.host['http://192.168.1.9:5000']).toEqual({ capabilities: ['pull', 'resolve'], skip_verify: true });
    const k8s = parseToml(await readFile(path.join(dir, 'containerd/hosts.d/registry.k8s.io/hosts.toml'), 'utf8')) as { server: string };
    expect(k8s.server).toBe('https://registry.k8s.io');
    expect(await readFile(path.join(dir, 'containerd/hosts.d/docker.io/ca-10.100.100.100_5000.crt'), 'utf8')).toBe(CA);
  });

  it('uses the pre-1.32 hosts dir for older channels, and containerd.hostsDir when given', async () => {
    const old = await site({ channel: '1.31-classic/stable' });
    // A real 1.31 snap, and no bootstrap config: its keys are known from 1.32 on (test/bundler/bootstrap-config.test.ts).
    await makeSnap({ dir: path.join(old, 'downloads'), name: 'k8s', revision: 30, base: 'core20', confinement: 'classic', version: 'v1.31.9' });
    await writeFile(
      path.join(old, 'airgap.yaml'),
      specText({ channel: '1.31-classic/stable' }).replace('cluster:\n  bootstrap: {config: ./bootstrap.yaml}\n', ''),
    );
    expect((await cli('bundler', ['build', 'airgap.yaml', '-o', 'a.tar', '--key', 'keys/site.key', '--no-applier'], { cwd: old })).exitCode).toBe(0);
    expect(JSON.parse((await cli('bundler', ['inspect', 'a.tar', '--json'], { cwd: old })).stdout)).toMatchObject({
      hostsDir: '/var/snap/k8s/common/etc/containerd/hosts.d',
    });
    const custom = await site();
    await writeFile(path.join(custom, 'airgap.yaml'), specText().replace('containerd:\n', 'containerd:\n  hostsDir: /opt/hosts.d\n'));
    expect((await cli('bundler', ['build', 'airgap.yaml', '-o', 'a.tar', '--key', 'keys/site.key', '--no-applier'], { cwd: custom })).exitCode).toBe(0);
    expect(JSON.parse((await cli('bundler', ['inspect', 'a.tar', '--json'], { cwd: custom })).stdout)).toMatchObject({ hostsDir: '/opt/hosts.d' });
  });

  it('writes the lock; --frozen needs a lock that covers the spec', async () => {
    const dir = await site();
    const missing = await cli('bundler', ['build', 'airgap.yaml', '-o', 'a.tar', '--key', 'keys/site.key', '--frozen', '--no-applier'], { cwd: dir });
    expect(missing.exitCode).toBe(2);
    expect(missing.stderr).toContain('error[LOCK_STALE]: --frozen:');
    expect(missing.stderr).toContain('airgap.lock.yaml does not exist');
    const locked = await cli('bundler', ['lock', 'airgap.yaml'], { cwd: dir });
    expect(locked.exitCode).toBe(0);
    const lock = await readFile(path.join(dir, 'airgap.lock.yaml'), 'utf8');
    expect(lock).toMatch(/name: k8s\n\s+channel: 1\.32-classic\/stable\n\s+revision: 30\n\s+sha3-384: \S{64}\n\s+size: \d+/);
    expect(lock).toContain('name: core20');
    const frozen = await cli('bundler', ['build', 'airgap.yaml', '-o', 'a.tar', '--key', 'keys/site.key', '--frozen', '--no-applier'], { cwd: dir });
    expect(frozen.exitCode).toBe(0);
    expect(await readFile(path.join(dir, 'airgap.lock.yaml'), 'utf8')).toBe(lock);
    // A newer k8s in the downloads: --frozen keeps the locked revision.
    await makeSnap({ dir: path.join(dir, 'downloads'), name: 'k8s', revision: 31, base: 'core20', confinement: 'classic' });
    expect((await cli('bundler', ['build', 'airgap.yaml', '-o', 'b.tar', '--key', 'keys/site.key', '--frozen', '--no-applier'], { cwd: dir })).exitCode).toBe(
      0,
    );
    expect((JSON.parse((await cli('bundler', ['inspect', 'b.tar', '--json'], { cwd: dir })).stdout) as { snaps: unknown[] }).snaps).toContainEqual(
      expect.objectContaining({ name: 'k8s', revision: 30 }),
    );
    // The spec moves to another channel: the lock is stale.
    await writeFile(path.join(dir, 'airgap.yaml'), specText({ channel: '1.33-classic/stable' }));
    const stale = await cli('bundler', ['build', 'airgap.yaml', '-o', 'c.tar', '--key', 'keys/site.key', '--frozen', '--no-applier'], { cwd: dir });
    expect(stale.exitCode).toBe(2);
    expect(stale.stderr).toContain('snap k8s is locked from channel 1.32-classic/stable, the spec asks for 1.33-classic/stable');
  });

  it('a failed build leaves no bundle and no temp file, and names the snap and what to do', async () => {
    const dir = await site();
    const { rm } = await import('node:fs/promises');
    await rm(path.join(dir, 'downloads/core20_20.snap'));
    const r = await cli('bundler', ['build', 'airgap.yaml', '-o', 'out.tar', '--key', 'keys/site.key', '--no-applier'], { cwd: dir });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain('error[SNAP_NOT_FOUND]: core20_*.snap is not in');
    expect(r.stderr).toContain('hint: run `snap download core20`');
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect((await readdir(dir)).filter((f) => f.includes('out.tar'))).toEqual([]);
  });

  it('a snap whose SHA3-384 is not the asserted one fails the build as it is copied: nothing written, the lock unchanged', async () => {
    const dir = await site();
    // The assertion names another SHA3-384 (same size): only reading the file can tell.
    await makeSnap({ dir: path.join(dir, 'downloads'), name: 'k8s', revision: 30, base: 'core20', confinement: 'classic', tamper: { sha3: 'A'.repeat(64) } });
    const r = await cli('bundler', ['build', 'airgap.yaml', '-o', 'out.tar', '--key', 'keys/site.key', '--no-applier'], { cwd: dir });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/error\[DIGEST_MISMATCH\]: k8s_30\.snap has SHA3-384 \S{64}, its snap-revision assertion says A{64}/);
    expect(r.stderr).toContain('hint: the snap is damaged or not the one asserted; download k8s again');
    expect((await readdir(dir)).filter((f) => f.includes('out.tar') || f === 'airgap.lock.yaml')).toEqual([]);
    // `bundler lock` hashes up front and refuses it too.
    const l = await cli('bundler', ['lock', 'airgap.yaml'], { cwd: dir });
    expect(l.exitCode).toBe(2);
    expect(l.stderr).toContain('error[DIGEST_MISMATCH]: k8s_30.snap has SHA3-384');
  });

  it('without snapsDir, runs `snap download` into the cache and reuses a locked revision', async () => {
    const dir = await site({ snapsDir: false });
    const log = path.join(dir, 'snap.log');
    const env = { PATH: `${storeBin}:${process.env.PATH ?? ''}`, FAKE_STORE_DIR: path.join(dir, 'store'), FAKE_SNAP_LOG: log };
    const a = await cli('bundler', ['build', 'airgap.yaml', '-o', 'a.tar', '--key', 'keys/site.key', '--cache-dir', 'cache', '--no-applier'], {
      cwd: dir,
      env,
    });
    expect(a.stderr).toBe('');
    expect(a.exitCode).toBe(0);
    const calls = (await readFile(log, 'utf8')).trim().split('\n');
    expect(calls).toHaveLength(3);
    expect(calls[0]).toMatch(/^snap download --channel=1\.32-classic\/stable --basename=\.k8s\.download-\d+ --target-directory=\S+\/cache\/snaps k8s$/);
    expect((await readdir(path.join(dir, 'cache/snaps'))).sort()).toEqual([
      'core20_20.assert',
      'core20_20.snap',
      'k8s_30.assert',
      'k8s_30.snap',
      'snapd_10.assert',
      'snapd_10.snap',
    ]);
    // With the lock written, a rebuild finds every locked revision in the cache: no download.
    const b = await cli('bundler', ['build', 'airgap.yaml', '-o', 'b.tar', '--key', 'keys/site.key', '--cache-dir', 'cache', '--frozen', '--no-applier'], {
      cwd: dir,
      env,
    });
    expect(b.exitCode).toBe(0);
    expect((await readFile(log, 'utf8')).trim().split('\n')).toHaveLength(3);
  });
});
