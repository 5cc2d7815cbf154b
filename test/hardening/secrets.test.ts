import { createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, type CliResult } from '../support/cli.ts';
import { startRegistry, type TestRegistry } from '../support/registry.ts';
import { pushTestImages } from '../support/push-test-images.ts';
import { site } from '../support/site-fixture.ts';
import { recordFigures } from './report.ts';

/** Every file under dir, recursively. */
async function files(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...(await files(p)));
    else if (e.isFile()) out.push(p);
  }
  return out;
}

describe('secrets never leak into bundles, locks, caches, logs or errors', () => {
  let reg: TestRegistry;
  beforeAll(async () => {
    reg = await startRegistry({ tls: true, auth: true });
    await pushTestImages(reg, { 'private/app:1': { platforms: ['linux/amd64'], layerSizes: [20_000] } });
  }, 60_000);
  afterAll(async () => reg?.stop());

  it('holds for a build with credentials, a refused build with --verbose, lock, inspect and verify', async () => {
    const dir = await site();
    const spec = (await readFile(path.join(dir, 'airgap.yaml'), 'utf8'))
      .replace('images: {k8sFeatures: false}', `images: {k8sFeatures: false, refs: [${reg.host}/private/app:1]}`)
      .replace('  snapsDir: ./downloads', `  snapsDir: ./downloads\n  registries: {"${reg.host}": {endpoint: "${reg.url}", ca: "${reg.certs!.caFile}"}}`);
    await writeFile(path.join(dir, 'airgap.yaml'), spec);
    const good = path.join(dir, 'auth-good.json');
    const wrongPassword = `wrong-${Math.random().toString(36).slice(2)}-secret`;
    const bad = path.join(dir, 'auth-bad.json');
    const entry = (password: string) => JSON.stringify({ auths: { [reg.host]: { auth: Buffer.from(`${reg.user!.name}:${password}`).toString('base64') } } });
    await writeFile(good, entry(reg.user!.password));
    await writeFile(bad, entry(wrongPassword));
    const broken = path.join(dir, 'auth-broken.json');
    await writeFile(broken, `{"auths": {"${reg.host}": {"auth": "${Buffer.from(`u:${wrongPassword}`).toString('base64')}"`); // cut short

    const key = createPrivateKey(await readFile(path.join(dir, 'keys/site.key')));
    const seed = Buffer.from(key.export({ format: 'jwk' }).d!, 'base64url');
    const pemBody = (await readFile(path.join(dir, 'keys/site.key'), 'utf8')).split('\n').filter((l) => l && !l.startsWith('-----'));
    const needles = [
      reg.user!.password,
      wrongPassword,
      Buffer.from(`${reg.user!.name}:${reg.user!.password}`).toString('base64'),
      Buffer.from(`${reg.user!.name}:${wrongPassword}`).toString('base64'),
      seed.toString('hex'),
      seed.toString('base64'),
      seed.toString('base64url'),
      ...pemBody,
    ];
    const outputs: [string, CliResult][] = [];
    const run = async (name: string, args: string[], env: Record<string, string> = {}) => {
      const r = await cli('bundler', args, { cwd: dir, env });
      outputs.push([name, r]);
      return r;
    };
    const cache = path.join(dir, 'cache');
    const build = ['build', 'airgap.yaml', '-o', 'bundle.tar', '--key', 'keys/site.key', '--no-applier', '--cache-dir', cache];
    expect((await run('build --json', [...build, '--json', '--verbose'], { REGISTRY_AUTH_FILE: good })).exitCode).toBe(0);
    expect((await run('build plain', [...build, '-o', 'bundle2.tar', '--verbose'], { REGISTRY_AUTH_FILE: good })).exitCode).toBe(0);
    const refused = await run('build, refused', [...build, '-o', 'refused.tar', '--verbose', '--cache-dir', path.join(dir, 'cache2')], {
      REGISTRY_AUTH_FILE: bad,
    });
    expect(refused.exitCode).toBe(2);
    expect(refused.stderr).toContain('REGISTRY_AUTH');
    const unreadable = await run('build, broken auth file', [...build, '-o', 'broken.tar', '--verbose', '--cache-dir', path.join(dir, 'cache3')], {
      REGISTRY_AUTH_FILE: broken,
    });
    expect(unreadable.exitCode).toBe(2);
    expect(unreadable.stderr).toContain('is not valid JSON');
    expect((await run('lock', ['lock', 'airgap.yaml', '--cache-dir', cache, '--verbose'], { REGISTRY_AUTH_FILE: good })).exitCode).toBe(0);
    expect((await run('inspect', ['inspect', 'bundle.tar', '--json'])).exitCode).toBe(0);
    expect((await run('verify', ['verify', 'bundle.tar', '--pub', 'keys/site.pub'])).exitCode).toBe(0);
    const badKey = path.join(dir, 'keys/broken.key');
    await writeFile(badKey, (await readFile(path.join(dir, 'keys/site.key'), 'utf8')).replace('PRIVATE KEY-----\n', 'PRIVATE KEY-----\nAAAA'));
    expect((await run('build, broken key', [...build, '--key', badKey, '--verbose'])).exitCode).toBe(2);

    // The scan finds what it looks for: the auth file and the key file themselves do hold needles.
    expect(needles.some((n) => readFileSync(good, 'utf8').includes(n))).toBe(true);
    expect(needles.some((n) => readFileSync(path.join(dir, 'keys/site.key'), 'utf8').includes(n))).toBe(true);
    const leaks: string[] = [];
    for (const [name, r] of outputs) for (const n of needles) if (`${r.stdout}\n${r.stderr}`.includes(n)) leaks.push(`${name} output`);
    const written = [path.join(dir, 'bundle.tar'), path.join(dir, 'bundle2.tar'), path.join(dir, 'airgap.lock.yaml'), ...(await files(cache))];
    let bytes = 0;
    for (const f of written) {
      const data = await readFile(f);
      bytes += data.length;
      for (const n of needles) if (data.includes(n) || data.includes(Buffer.from(n, 'utf8'))) leaks.push(path.relative(dir, f));
      if (data.includes(seed)) leaks.push(`${path.relative(dir, f)} (raw key seed)`);
    }
    expect(leaks).toEqual([]);
    expect((await stat(path.join(dir, 'bundle.tar'))).size).toBeGreaterThan(0);
    await recordFigures('secrets', {
      commandsChecked: outputs.length,
      filesScanned: written.length,
      bytesScanned: bytes,
      needles: needles.length,
      leaks: leaks.length,
    });
  });
});
