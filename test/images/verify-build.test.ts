import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cosignFingerprint, loadPublicKey, verifyBundle } from '@airgap/core';
import { createPublicKey } from 'node:crypto';
import { cli } from '../support/cli.ts';
import { cosignKey, publishEvidence, type CosignKey } from '../support/cosign-evidence.ts';
import { makeImage, type MadeImage } from '../support/oci-images.ts';
import { pushLayout, startRegistry, type TestRegistry } from '../support/registry.ts';
import { site } from '../support/site-fixture.ts';
import { testdir } from '../support/tmpdir.ts';

/**
 * `images.verify` end to end: images in a real registry (docker-registry), signatures in cosign's
 * layout beside them (`sha256-<hex>.sig`, simple-signing payload, ECDSA P-256 signature in the layer
 * annotation; test/support/cosign-evidence.ts), the built bundler run as a user runs it.
 */
describe('bundler build checks cosign signatures of the images a rule matches', () => {
  let reg: TestRegistry;
  const images: Record<'good' | 'foreign' | 'unsigned', MadeImage> = {} as never;
  let trusted: CosignKey;
  const ref = (name: keyof typeof images) => `${reg.host}/apps/${name}:1`;

  beforeAll(async () => {
    reg = await startRegistry();
    const layout = await testdir();
    trusted = cosignKey();
    for (const [i, name] of (['good', 'foreign', 'unsigned'] as const).entries()) {
      images[name] = await makeImage({ layoutDir: layout, tag: name, platforms: ['linux/amd64'], layerSizes: [4_000 + i] });
      await pushLayout(reg, layout, name, `apps/${name}:1`);
    }
    await publishEvidence({ base: reg.url, repo: 'apps/good', host: reg.host, digest: images.good.digest, key: trusted });
    // Signed in the same layout, by a key the rule does not name.
    await publishEvidence({ base: reg.url, repo: 'apps/foreign', host: reg.host, digest: images.foreign.digest, key: cosignKey() });
  }, 120_000);
  afterAll(async () => {
    await reg?.stop();
  });

  /** The site fixture with `refs` from the test registry and one rule over apps/* naming keys/cosign.pub. */
  async function spec(refs: string[], mode?: 'enforce' | 'warn'): Promise<string> {
    const dir = await site();
    const text = (await readFile(path.join(dir, 'airgap.yaml'), 'utf8'))
      .replace(
        'images: {k8sFeatures: false}',
        [
          'images:',
          '  k8sFeatures: false',
          `  refs: [${refs.join(', ')}]`,
          '  verify:',
          `    - match: "${reg.host}/apps/*"`,
          '      key: keys/cosign.pub',
          ...(mode ? [`      mode: ${mode}`] : []),
        ].join('\n'),
      )
      .replace('  snapsDir: ./downloads', `  snapsDir: ./downloads\n  registries: {"${reg.host}": {endpoint: "${reg.url}", plainHttp: true}}`);
    await writeFile(path.join(dir, 'airgap.yaml'), text);
    await writeFile(path.join(dir, 'keys/cosign.pub'), trusted.publicPem);
    return dir;
  }

  const build = (dir: string) =>
    cli('bundler', ['build', 'airgap.yaml', '-o', 'bundle.tar', '--key', 'keys/site.key', '--no-applier', '--cache-dir', 'cache'], { cwd: dir });
  const fingerprint = () => cosignFingerprint(createPublicKey(trusted.publicPem));
  /** Nothing of a bundle in the folder: no bundle.tar, no temp file beside it. */
  const bundleFiles = async (dir: string) => (await readdir(dir)).filter((n) => n.startsWith('bundle'));

  it('passes with the matching key, records the key in the signed manifest, and inspect prints it', async () => {
    const dir = await spec([ref('good')]);
    const r = await build(dir);
    expect(r.stderr).not.toMatch(/warning|error/);
    expect(r.exitCode).toBe(0);
    const bundle = await verifyBundle(path.join(dir, 'bundle.tar'), { keys: [await loadPublicKey(path.join(dir, 'keys/site.pub'))] });
    const named = bundle.manifest.images.filter((i) => i.digest === images.good.digest);
    expect(named.length).toBe(2); // the tag and its repo@digest name
    for (const i of named) expect(i.verified).toEqual({ rule: `${reg.host}/apps/*`, mode: 'enforce', ok: true, by: `key ${fingerprint()}` });
    expect(r.stdout).toContain(`verified: cosign signature by key ${fingerprint()} (rule ${reg.host}/apps/*)`);
    const inspect = await cli('bundler', ['inspect', 'bundle.tar', '--json'], { cwd: dir });
    const shown = JSON.parse(inspect.stdout) as { images: { verified?: { by?: string } }[] };
    expect(shown.images[0]?.verified?.by).toBe(`key ${fingerprint()}`);
  });

  it('fails with exit 1 and no bundle when the only signature is by another key', async () => {
    const dir = await spec([ref('good'), ref('foreign')]);
    const r = await build(dir);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain('error[IMAGE_UNVERIFIED]: 1 image(s) have no valid signature');
    expect(r.stderr).toContain(`${ref('foreign')} (${images.foreign.digest}) matches images.verify rule ${reg.host}/apps/* (key ${fingerprint()}`);
    expect(r.stderr).toContain(`1 signature(s) in sha256-${images.foreign.digest.slice(7)}.sig, none valid for key ${fingerprint()}`);
    expect(r.stderr).toContain('the signature does not verify');
    expect(await bundleFiles(dir)).toEqual([]);
  });

  it('fails for an unsigned image under enforce (the default), naming the tag it looked for', async () => {
    const dir = await spec([ref('unsigned')]);
    const r = await build(dir);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain(`${ref('unsigned')} (${images.unsigned.digest}) matches images.verify rule`);
    expect(r.stderr).toContain(`no signature: the repository has no tag sha256-${images.unsigned.digest.slice(7)}.sig`);
    expect(await bundleFiles(dir)).toEqual([]);
  });

  it('warns and goes on under mode warn, and the manifest says it was not verified', async () => {
    const dir = await spec([ref('unsigned')], 'warn');
    const r = await build(dir);
    expect(r.exitCode).toBe(0);
    expect(r.stderr).toContain(`warning[IMAGE_UNVERIFIED]: ${ref('unsigned')} (${images.unsigned.digest}) matches images.verify rule`);
    const bundle = await verifyBundle(path.join(dir, 'bundle.tar'), { keys: [await loadPublicKey(path.join(dir, 'keys/site.pub'))] });
    const v = bundle.manifest.images.find((i) => i.ref === ref('unsigned'))!.verified!;
    expect(v).toMatchObject({ mode: 'warn', ok: false, reason: expect.stringContaining('no signature') as unknown });
    expect(r.stdout).toContain('NOT verified (rule');
  });

  it('refuses a bad rule with file:line:column before pulling anything', async () => {
    const dir = await spec([ref('good')], 'audit' as never);
    const r = await build(dir);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/airgap\.yaml:\d+:\d+: images\.verify\[0\]\.mode: /);
    const missing = await spec([ref('good')]);
    await writeFile(path.join(missing, 'airgap.yaml'), (await readFile(path.join(missing, 'airgap.yaml'), 'utf8')).replace('keys/cosign.pub', 'keys/nope.pub'));
    const m = await build(missing);
    expect(m.exitCode).toBe(2);
    expect(m.stderr).toMatch(/airgap\.yaml:\d+:\d+: images\.verify\[0\]\.key: file keys\/nope\.pub not found/);
  });
});
