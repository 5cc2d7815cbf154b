import { mkdir, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { cli } from '../support/cli.ts';
import { makeSnap } from '../support/snap-fixture.ts';
import { site } from '../support/site-fixture.ts';
import { mountTmpfs } from '../support/tmpfs.ts';
import { recordFigures } from './report.ts';

const root = path.resolve(import.meta.dirname, '../..');

describe('build faults: no partial output, and a re-run works', () => {
  it('a full disk fails the build cleanly with IO_FAILED and leaves nothing behind', async () => {
    const dir = await site();
    const full = path.join(dir, 'full');
    await mkdir(full);
    await mountTmpfs(full, 24 * 1024);
    const r = await cli('bundler', ['build', 'airgap.yaml', '-o', 'full/bundle.tar', '--key', 'keys/site.key', '--no-applier'], { cwd: dir });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain('error[IO_FAILED]: cannot write bundle full/bundle.tar: no space left on the device (ENOSPC)');
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(await readdir(full)).toEqual([]);
    const again = await cli('bundler', ['build', 'airgap.yaml', '-o', 'bundle.tar', '--key', 'keys/site.key', '--no-applier'], { cwd: dir });
    expect(again.exitCode).toBe(0);
    await recordFigures('buildDiskFull', { tmpfsBytes: 24 * 1024, exitCode: r.exitCode, filesLeft: 0 });
  });

  it('a build killed with SIGKILL never leaves a bundle at the final path; the next build clears its temp file', async () => {
    const dir = await site();
    // A 256 MiB snap so the kill lands while the bundle is being written.
    await execa('bash', ['-c', `head -c ${256 * 1024 * 1024} /dev/urandom > ${dir}/big.bin`]);
    await makeSnap({
      dir: path.join(dir, 'downloads'),
      name: 'k8s',
      revision: 31,
      base: 'core20',
      confinement: 'classic',
      payloadFile: path.join(dir, 'big.bin'),
      compression: 'none',
    });
    const child = execa(
      process.execPath,
      [path.join(root, 'dist/bundler.mjs'), 'build', 'airgap.yaml', '-o', 'out/bundle.tar', '--key', 'keys/site.key', '--no-applier'],
      { cwd: dir, reject: false },
    );
    await mkdir(path.join(dir, 'out'));
    let killedAt = -1;
    for (let i = 0; i < 2000 && killedAt < 0; i++) {
      const temps = (await readdir(path.join(dir, 'out'))).filter((n) => n.startsWith('.bundle.tar.tmp-'));
      if (temps.length > 0 && (await stat(path.join(dir, 'out', temps[0]!))).size > 1024 * 1024) {
        child.kill('SIGKILL');
        killedAt = (await stat(path.join(dir, 'out', temps[0]!))).size;
      } else await new Promise((r) => setTimeout(r, 10));
    }
    const r = await child;
    expect(r.signal).toBe('SIGKILL');
    expect(killedAt).toBeGreaterThan(0);
    expect(await readdir(path.join(dir, 'out'))).toHaveLength(1);
    expect((await readdir(path.join(dir, 'out'))).includes('bundle.tar')).toBe(false);
    const again = await cli('bundler', ['build', 'airgap.yaml', '-o', 'out/bundle.tar', '--key', 'keys/site.key', '--no-applier'], { cwd: dir });
    expect(again.exitCode).toBe(0);
    expect(await readdir(path.join(dir, 'out'))).toEqual(['bundle.tar']);
    expect((await cli('bundler', ['verify', 'out/bundle.tar', '--pub', 'keys/site.pub'], { cwd: dir })).exitCode).toBe(0);
  });
});
