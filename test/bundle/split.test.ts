import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, stat, truncate, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { describe, expect, it, onTestFinished } from 'vitest';
import { renderHostsFiles } from '../../packages/bundler/src/containerd/render-hosts.ts';
import { makeNode } from '../applier/node-env.ts';
import { makeBundle } from '../support/bundle-fixture.ts';
import { cli } from '../support/cli.ts';
import { startContainerd } from '../support/containerd.ts';
import { startRegistry } from '../support/registry.ts';
import { testdir } from '../support/tmpdir.ts';
import { makeSnap } from '../support/snap-fixture.ts';
import { site } from '../support/site-fixture.ts';

const EPOCH = { SOURCE_DATE_EPOCH: '1700000000' };
const PART = 64 * 1024;

/** A site whose k8s snap is big enough (≈300 KiB) that a 64K split makes several parts. */
async function bigSite(): Promise<string> {
  const dir = await site();
  await makeSnap({ dir: path.join(dir, 'downloads'), name: 'k8s', revision: 30, base: 'core20', confinement: 'classic', payloadBytes: 300_000 });
  return dir;
}

async function build(dir: string, args: string[]) {
  return cli('bundler', ['build', 'airgap.yaml', '--key', 'keys/site.key', '--no-applier', ...args], { cwd: dir, env: EPOCH });
}

const partsIn = async (dir: string, base = 'bundle.tar') => (await readdir(dir)).filter((f) => f.startsWith(`${base}.`)).sort();

/** Split build into dir/parts/, unsplit build into dir/whole.tar, same inputs. */
async function splitAndWhole(): Promise<{ dir: string; parts: string[] }> {
  const dir = await bigSite();
  const { mkdir } = await import('node:fs/promises');
  await mkdir(path.join(dir, 'parts'));
  const whole = await build(dir, ['-o', 'whole.tar']);
  expect(whole.exitCode).toBe(0);
  const split = await build(dir, ['-o', 'parts/bundle.tar', '--split', '64K']);
  expect(split.stderr).toBe('');
  expect(split.exitCode).toBe(0);
  const parts = await partsIn(path.join(dir, 'parts'));
  expect(split.stdout).toContain(`wrote parts/bundle.tar.000 … parts/${parts.at(-1)!} (${parts.length} parts)`);
  return { dir, parts };
}

describe('bundler build --split', () => {
  it('writes parts of at most the size, nothing else, whose concatenation is the unsplit bundle; verify and apply read them in place', async () => {
    const { dir, parts } = await splitAndWhole();
    const wholeBytes = await readFile(path.join(dir, 'whole.tar'));
    expect(wholeBytes.length).toBeGreaterThan(3 * PART);
    expect(parts).toEqual(Array.from({ length: Math.ceil(wholeBytes.length / PART) }, (_, i) => `bundle.tar.${String(i).padStart(3, '0')}`));
    // Nothing else in the folder: no manifest beside the parts, no temp left.
    expect(await readdir(path.join(dir, 'parts'))).toEqual(parts);
    const bytes: Buffer[] = [];
    for (const p of parts) {
      const b = await readFile(path.join(dir, 'parts', p));
      expect(b.length).toBeLessThanOrEqual(PART);
      bytes.push(b);
    }
    expect(Buffer.concat(bytes).equals(wholeBytes)).toBe(true);

    for (const target of ['parts/bundle.tar.000', 'parts']) {
      const v = await cli('bundler', ['verify', target, '--pub', 'keys/site.pub'], { cwd: dir });
      expect(v.stderr).toBe('');
      expect(v.exitCode).toBe(0);
      expect(v.stdout).toMatch(new RegExp(`^OK ${target}\\n`));
      const i = await cli('bundler', ['inspect', target, '--json'], { cwd: dir });
      expect(i.exitCode).toBe(0);
      expect((JSON.parse(i.stdout) as { name: string }).name).toBe('test-site');
    }

    const node = await makeNode({ release: '1.32' });
    const first = path.join(dir, 'parts/bundle.tar.000');
    const v = await node.applier(['verify', first, '--pub', path.join(dir, 'keys/site.pub')]);
    expect(v.exitCode).toBe(0);
    const applied = await node.applier(['apply', path.join(dir, 'parts'), '--pub', path.join(dir, 'keys/site.pub')]);
    expect(applied.stderr).toBe('');
    expect(applied.exitCode).toBe(0);
    expect(applied.stdout).toMatch(/converged: \d+ change\(s\) made/);
    expect((await node.calls()).filter((c) => c.startsWith('snap install')).map((c) => c.replace(/ \S*\/([^/ ]+)/, ' $1'))).toEqual([
      'snap install snapd_10.snap',
      'snap install core20_20.snap',
      'snap install k8s_30.snap --classic',
    ]);
    // The same node again, from the first part: the bundle is the same, nothing to do.
    const again = await node.applier(['apply', first, '--pub', path.join(dir, 'keys/site.pub')]);
    expect(again.exitCode).toBe(0);
    expect(again.stdout).toContain('converged: nothing changed');
  });

  it('names a missing part, a damaged one, a cut one, and the first part when given another', async () => {
    const { dir, parts } = await splitAndWhole();
    const p = (name: string) => path.join(dir, 'parts', name);
    const verify = (target: string) => cli('applier', ['verify', target, '--pub', 'keys/site.pub', '--root', path.join(dir, 'no-root')], { cwd: dir });
    expect(parts.length).toBeGreaterThanOrEqual(4);

    // A byte flipped in the middle of part 002 (inside the k8s snap): the entry's digest error names it.
    const fh = await open(p('bundle.tar.002'), 'r+');
    const one = Buffer.alloc(1);
    await fh.read(one, 0, 1, 1000);
    await fh.write(Buffer.from([one[0]! ^ 0xff]), 0, 1, 1000);
    await fh.close();
    for (const target of ['parts/bundle.tar.000', 'parts']) {
      const r = await verify(target);
      expect(r.exitCode).toBe(2);
      expect(r.stderr).toMatch(/error\[DIGEST_MISMATCH\]: snaps\/k8s_30\.snap has sha256 \S+, the manifest says \S+ \(its bytes are in [^)]*bundle\.tar\.002/);
    }
    await fh.close().catch(() => undefined);
    const again = await open(p('bundle.tar.002'), 'r+');
    await again.write(one, 0, 1, 1000);
    await again.close();
    expect((await verify('parts')).exitCode).toBe(0);

    // A middle part missing.
    await rename(p('bundle.tar.001'), path.join(dir, 'aside'));
    for (const target of ['parts/bundle.tar.000', 'parts']) {
      const r = await verify(target);
      expect(r.exitCode).toBe(2);
      expect(r.stderr).toContain('error[BUNDLE_INVALID]: bundle.tar.001 is missing');
    }
    await rename(path.join(dir, 'aside'), p('bundle.tar.001'));

    // The last part missing: the parts hold less than the manifest describes.
    const last = parts.at(-1)!;
    await rename(p(last), path.join(dir, 'aside'));
    const short = await verify('parts');
    expect(short.exitCode).toBe(2);
    expect(short.stderr).toContain(`${last} is missing`);
    await rename(path.join(dir, 'aside'), p(last));

    // A middle part cut short.
    await truncate(p('bundle.tar.002'), PART - 512);
    const cut = await verify('parts/bundle.tar.000');
    expect(cut.exitCode).toBe(2);
    expect(cut.stderr).toContain(`error[BUNDLE_INVALID]: bundle.tar.002 is ${PART - 512} bytes, bundle.tar.000 is ${PART}`);

    // Not the first part.
    const second = await verify('parts/bundle.tar.001');
    expect(second.exitCode).toBe(2);
    expect(second.stderr).toContain('bundle.tar.001 is not the first part of a split bundle');
    expect(second.stderr).toContain('bundle.tar.000 or the folder');
  });

  it('a failed build leaves no part and no temp; a smaller rebuild leaves no stale part; sizes are checked', async () => {
    const dir = await bigSite();
    // The assertion names another SHA3-384: the build fails while the snap is copied into the parts.
    await makeSnap({ dir: path.join(dir, 'downloads'), name: 'core20', revision: 20, type: 'base', tamper: { sha3: 'A'.repeat(64) } });
    const r = await build(dir, ['-o', 'out.tar', '--split', '64K']);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain('error[DIGEST_MISMATCH]: core20_20.snap has SHA3-384');
    expect((await readdir(dir)).filter((f) => f.includes('out.tar'))).toEqual([]);

    await makeSnap({ dir: path.join(dir, 'downloads'), name: 'core20', revision: 20, type: 'base' });
    expect((await build(dir, ['-o', 'out.tar', '--split', '64K'])).exitCode).toBe(0);
    const many = await partsIn(dir, 'out.tar');
    expect(many.length).toBeGreaterThan(2);
    // Rebuilt with larger parts: the old parts beyond the new last one are gone, so `cat out.tar.*` is the new bundle.
    expect((await build(dir, ['-o', 'out.tar', '--split', '4000000000'])).exitCode).toBe(0);
    expect(await partsIn(dir, 'out.tar')).toEqual(['out.tar.000']);
    expect((await stat(path.join(dir, 'out.tar.000'))).size).toBeGreaterThan(3 * PART);
    expect((await cli('bundler', ['verify', 'out.tar.000', '--pub', 'keys/site.pub'], { cwd: dir })).exitCode).toBe(0);

    for (const bad of ['4X', '0', '100', '-1G']) {
      const u = await build(dir, ['-o', 'x.tar', '--split', bad]);
      expect(u.exitCode).toBe(2);
      expect(u.stderr).toContain(`error[USAGE]: --split ${bad} is not a part size`);
    }
    const help = await cli('bundler', ['build', '--help']);
    expect(help.stdout).toContain('4G is 4294967296 bytes');
    expect(help.stdout).toContain('4000M for FAT32');
  });

  it('applier push reads the parts too: a bundle cut by coreutils split pushes in 16K chunks to a real registry, and containerd pulls it back', async () => {
    const dir = await testdir();
    const fixture = await makeBundle({ dir, images: [{ ref: 'ghcr.io/canonical/big:1.0', files: { 'data.bin': randomBytes(300_000).toString('base64') } }] });
    await mkdir(path.join(dir, 'parts'));
    // The split is a pure byte split: coreutils' split makes the same parts as --split would.
    await execa('split', ['-b', '64K', '-d', '-a', '3', fixture.file, path.join(dir, 'parts/bundle.tar.')]);
    expect((await partsIn(path.join(dir, 'parts'))).length).toBeGreaterThan(3);
    const reg = await startRegistry({});
    onTestFinished(() => reg.stop());
    const push = await cli('applier', [
      'push',
      path.join(dir, 'parts'),
      '--pub',
      fixture.pubFile,
      '--registry',
      reg.host,
      '--plain-http',
      '--chunk-size',
      '16K',
    ]);
    expect(push.stderr).toBe('');
    expect(push.exitCode).toBe(0);
    // Chunked: the big layer went up in many PATCHes, each read across the part files.
    expect((await reg.requests()).filter((r) => r.method === 'PATCH').length).toBeGreaterThan(10);

    const hostsDir = path.join(dir, 'hosts.d');
    for (const f of renderHostsFiles({
      mirrors: [{ registries: ['ghcr.io'], endpoint: `http://${reg.host}`, capabilities: ['pull', 'resolve'], skipVerify: false, overridePath: false }],
      hostsDir,
      caData: new Map(),
    })) {
      await mkdir(path.dirname(path.join(hostsDir, f.target)), { recursive: true });
      await writeFile(path.join(hostsDir, f.target), f.data);
    }
    const containerd = await startContainerd();
    onTestFinished(() => containerd.stop());
    const ctr = (...args: string[]) => execa('ctr', ['--address', containerd.address, '--namespace', 'split', ...args]);
    const image = fixture.manifest.images[0]!;
    await ctr('images', 'pull', '--hosts-dir', hostsDir, image.ref);
    expect((await ctr('images', 'ls')).stdout.split('\n').find((l) => l.startsWith(`${image.ref} `))).toContain(image.digest);
    expect((await ctr('images', 'check')).stdout).toMatch(/complete \(\d+\/\d+\)/);
  });
});
