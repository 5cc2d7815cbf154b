import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadPublicKey, verifyBundle, type Mirror } from '@airgap/core';
import { renderHostsFiles } from '../../packages/bundler/src/containerd/render-hosts.ts';
import type { PushEvent } from '../../packages/applier/src/push/push-events.ts';
import { makeBundle, type BundleFixture } from '../support/bundle-fixture.ts';
import { cli } from '../support/cli.ts';
import { pausedAt } from '../support/pause-at.ts';
import { startContainerd, type TestContainerd } from '../support/containerd.ts';
import { startRegistry, type RegistryRequestLog, type TestRegistry } from '../support/registry.ts';
import { testdir } from '../support/tmpdir.ts';

/** The applier with the checkpoint hook (test/support/applier-test-entry.ts), for the run stopped mid-push. */
const applierTest = path.resolve(import.meta.dirname, '../../dist/applier-test.mjs');
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

let containerd: TestContainerd;
beforeAll(async () => {
  containerd = await startContainerd();
}, 60_000);
afterAll(async () => {
  await containerd?.stop();
});

async function registry(o: { tls?: boolean; auth?: boolean } = {}): Promise<TestRegistry> {
  const r = await startRegistry(o);
  cleanups.push(() => r.stop());
  return r;
}

/** Requests that write a blob: starting, sending or committing an upload (a mount is a POST too). */
const uploads = (log: RegistryRequestLog[]) => log.filter((r) => r.method !== 'HEAD' && r.method !== 'GET' && r.uri.includes('/blobs/uploads/'));
/** Digests whose upload the registry committed (PUT …?digest= answered 201). */
const committed = (log: RegistryRequestLog[]) =>
  new Set(
    log
      .filter((r) => r.method === 'PUT' && r.status === 201 && r.uri.includes('/blobs/uploads/'))
      .map((r) => /digest=(sha256(?::|%3A)[a-f0-9]{64})/.exec(r.uri)![1]!.replace('%3A', ':')),
  );

const events = (stdout: string) =>
  stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as PushEvent);
const done = (stdout: string) => events(stdout).find((e) => e.type === 'done') as Extract<PushEvent, { type: 'done' }>;

/** Every config and layer blob of the fixture's images. */
function blobDigests(fixture: BundleFixture): Set<string> {
  const out = new Set<string>();
  for (const e of fixture.manifest.entries.filter((e) => e.path.startsWith('images/blobs/'))) {
    const digest = `sha256:${e.path.slice('images/blobs/sha256/'.length)}`;
    if (!fixture.manifest.images.some((i) => i.digest === digest)) out.add(digest);
  }
  return out;
}

/** The hosts.toml files the bundler renders for `mirrors` (the applier writes these bytes), into a fresh hosts dir. */
async function hostsDirFor(dir: string, mirrors: Mirror[], caData = new Map<string, Buffer>()): Promise<string> {
  const hostsDir = path.join(dir, `hosts-${Math.random().toString(36).slice(2)}`);
  for (const f of renderHostsFiles({ mirrors, hostsDir, caData })) {
    await mkdir(path.dirname(path.join(hostsDir, f.target)), { recursive: true });
    await writeFile(path.join(hostsDir, f.target), f.data);
  }
  return hostsDir;
}

/** `ctr images pull` through the hosts dir with the upstream name; the digest containerd recorded. */
async function pullThrough(o: { hostsDir: string; ref: string; namespace: string; user?: string }): Promise<string> {
  const ctr = (...args: string[]) => execa('ctr', ['--address', containerd.address, '--namespace', o.namespace, ...args]);
  await ctr('images', 'pull', '--hosts-dir', o.hostsDir, ...(o.user ? ['--user', o.user] : []), o.ref);
  const line = (await ctr('images', 'ls')).stdout.split('\n').find((l) => l.startsWith(`${o.ref} `));
  expect(line, `ctr images ls lists ${o.ref}`).toBeDefined();
  const check = (await ctr('images', 'check')).stdout.split('\n').find((l) => l.startsWith(`${o.ref} `));
  expect(check).toMatch(/complete \(\d+\/\d+\)/);
  return /sha256:[a-f0-9]{64}/.exec(line!)![0];
}

describe('applier push: the bundle into a private registry, pulled back by a real containerd', () => {
  it('plain HTTP: pushes every image once, mounts shared blobs, and a second push uploads nothing', async () => {
    const dir = await testdir();
    const same = { 'hello.txt': 'hello from the bundle\n' };
    const fixture = await makeBundle({
      dir,
      images: [
        { ref: 'docker.io/library/hello:1.0', files: same },
        { ref: 'docker.io/library/hello-copy:1.0', files: same },
        { ref: 'ghcr.io/canonical/tool:2.1', files: { 'bin/tool': '#!/bin/sh\necho tool\n', 'data.bin': randomBytes(300_000).toString('base64') } },
      ],
    });
    const reg = await registry();
    const before = (await reg.requests()).length;
    const t0 = Date.now();
    const first = await cli('applier', ['push', fixture.file, '--pub', fixture.pubFile, '--registry', reg.host, '--plain-http', '--json']);
    const firstMs = Date.now() - t0;
    expect(first.stderr).toBe('');
    expect(first.exitCode).toBe(0);
    const log1 = (await reg.requests()).slice(before);
    const blobs = blobDigests(fixture);
    // Each distinct blob is sent once; hello-copy's two blobs are mounted from library/hello.
    expect(committed(log1)).toEqual(blobs);
    expect(log1.filter((r) => r.method === 'POST' && r.uri.includes('mount=') && r.status === 201)).toHaveLength(2);
    expect(log1.filter((r) => r.method === 'POST' && r.uri.includes('mount=') && r.uri.includes('from=library%2Fhello'))).toHaveLength(2);
    const s1 = done(first.stdout);
    expect(s1).toMatchObject({ images: 3, blobsUploaded: blobs.size, blobsMounted: 2, manifestsPushed: 3 });

    const hostsDir = await hostsDirFor(dir, [
      { registries: ['docker.io', 'ghcr.io'], endpoint: `http://${reg.host}`, capabilities: ['pull', 'resolve'], skipVerify: false, overridePath: false },
    ]);
    for (const image of fixture.manifest.images) {
      expect(await pullThrough({ hostsDir, ref: image.ref, namespace: 'push-http' })).toBe(image.digest);
    }

    const mark = (await reg.requests()).length;
    const t1 = Date.now();
    const second = await cli('applier', ['push', fixture.file, '--pub', fixture.pubFile, '--registry', reg.host, '--plain-http']);
    const secondMs = Date.now() - t1;
    expect(second.exitCode).toBe(0);
    const log2 = (await reg.requests()).slice(mark);
    expect(uploads(log2)).toEqual([]);
    expect(log2.filter((r) => r.method === 'PUT')).toEqual([]);
    expect(second.stdout).toContain('0 blob(s) uploaded (0 B), 0 mounted');
    expect(second.stdout).toContain('0 manifest(s) pushed, 3 already there');
    console.log(
      `push (plain HTTP, ${blobs.size} blobs): first ${firstMs} ms, ${log1.length} requests; second ${secondMs} ms, ${log2.length} requests (${log2.map((r) => r.method).join(' ')})`,
    );
  });

  it('TLS + htpasswd with --prefix: hosts.toml with the path and override_path; chunked uploads; a partial index without a subset index is refused alone', async () => {
    const dir = await testdir();
    const fixture = await makeBundle({
      dir,
      images: [
        { ref: 'docker.io/library/web:1.27', files: { 'index.html': randomBytes(200_000).toString('base64') } },
        { ref: 'docker.io/library/multi:3', files: { 'm.txt': 'multi\n' }, absentPlatforms: ['linux/arm64', 'linux/s390x'] },
      ],
    });
    const reg = await registry({ tls: true, auth: true });
    const user = reg.user!;
    const push = await cli(
      'applier',
      [
        'push',
        fixture.file,
        '--pub',
        fixture.pubFile,
        '--registry',
        reg.host,
        '--ca',
        reg.certs!.caFile,
        '--user',
        user.name,
        '--password-stdin',
        '--prefix',
        'mirror/',
        '--chunk-size',
        '64K',
      ],
      { input: `${user.password}\n` },
    );
    // The fixture's bundle has no subset index (as bundles built before it): that image alone fails.
    expect(push.exitCode).toBe(1);
    expect(push.stdout).toContain(`push docker.io/library/web:1.27 → ${reg.host}/mirror/library/web:1.27`);
    expect(push.stdout).toMatch(
      /error: docker\.io\/library\/multi:3: 127\.0\.0\.1:\d+ refuses its index sha256:[a-f0-9]{64}, which lists content the bundle does not carry \(linux\/arm64, linux\/s390x\), and the bundle has no subset index/,
    );
    expect(push.stderr).toContain(`error[REGISTRY_FAILED]: ${reg.host} refused 1 image(s): docker.io/library/multi:3; every other image was pushed`);
    const log = await reg.requests();
    // The 270 KB layer went up in 64 KiB PATCHes, all under the prefix.
    expect(log.filter((r) => r.method === 'PATCH' && r.status === 202).length).toBeGreaterThanOrEqual(5);
    expect(log.filter((r) => r.method !== 'GET' && r.uri.startsWith('/v2/') && r.uri !== '/v2/').every((r) => r.uri.startsWith('/v2/mirror/library/'))).toBe(
      true,
    );

    const hostsDir = await hostsDirFor(
      dir,
      [
        {
          registries: ['docker.io'],
          endpoint: `https://${reg.host}/v2/mirror`,
          ca: 'mirror-ca.crt',
          capabilities: ['pull', 'resolve'],
          skipVerify: false,
          overridePath: true,
        },
      ],
      new Map([['mirror-ca.crt', await readFile(reg.certs!.caFile)]]),
    );
    const toml = await readFile(path.join(hostsDir, 'docker.io/hosts.toml'), 'utf8');
    expect(toml).toContain(`[host."https://${reg.host}/v2/mirror"]`);
    expect(toml).toContain('override_path = true');
    const web = fixture.manifest.images.find((i) => i.ref === 'docker.io/library/web:1.27')!;
    expect(await pullThrough({ hostsDir, ref: web.ref, namespace: 'push-tls', user: `${user.name}:${user.password}` })).toBe(web.digest);
    // The refused image left its blobs and platform manifest, never a tag: a re-run sends nothing new.
    const again = events(await jsonPushOf(fixture, reg));
    expect(again.filter((e) => e.type === 'image-failed').map((e) => (e as { image: string }).image)).toEqual(['docker.io/library/multi:3']);
  });

  it('a wrong password is REGISTRY_AUTH with no secret in the output; the auth files are used without --user', async () => {
    const dir = await testdir();
    const fixture = await makeBundle({ dir, images: [{ ref: 'docker.io/library/auth:1', files: { 'a.txt': 'a\n' } }] });
    const reg = await registry({ tls: true, auth: true });
    const wrong = `not-${reg.user!.password}`;
    const args = ['push', fixture.file, '--pub', fixture.pubFile, '--registry', reg.host, '--ca', reg.certs!.caFile];
    const env = { HOME: dir, DOCKER_CONFIG: path.join(dir, 'docker'), REGISTRY_AUTH_FILE: path.join(dir, 'auth.json'), XDG_RUNTIME_DIR: path.join(dir, 'run') };
    const refused = await cli('applier', [...args, '--user', reg.user!.name, '--password-stdin'], { input: wrong, env });
    expect(refused.exitCode).toBe(2);
    expect(refused.stderr).toContain('error[REGISTRY_AUTH]: docker.io/library/auth:1: ');
    expect(refused.stderr).toContain(`hint: ${reg.host} refused user ${reg.user!.name} (from --user and --password-stdin)`);
    for (const text of [refused.stdout, refused.stderr]) {
      expect(text).not.toContain(wrong);
      expect(text).not.toContain(Buffer.from(`${reg.user!.name}:${wrong}`).toString('base64'));
    }
    const none = await cli('applier', args, { env });
    expect(none.exitCode).toBe(2);
    expect(none.stderr).toContain(`hint: no credentials for ${reg.host} in ${env.REGISTRY_AUTH_FILE}`);
    expect(none.stderr).toContain('--user USER --password-stdin');
    await writeFile(
      env.REGISTRY_AUTH_FILE,
      JSON.stringify({ auths: { [reg.host]: { auth: Buffer.from(`${reg.user!.name}:${reg.user!.password}`).toString('base64') } } }),
    );
    const fromFile = await cli('applier', args, { env });
    expect(fromFile.stderr).toBe('');
    expect(fromFile.exitCode).toBe(0);
    expect(fromFile.stdout).toContain(`done ${reg.host}/library/auth:1 ${fixture.manifest.images[0]!.digest.slice(0, 19)}…`);
  });

  it('a TLS registry without --ca, or with --plain-http, and a plain one over HTTPS say which option to use', async () => {
    const dir = await testdir();
    const fixture = await makeBundle({ dir, images: [{ ref: 'docker.io/library/tls:1', files: { 'a.txt': 'a\n' } }] });
    const tls = await registry({ tls: true });
    const plain = await registry();
    const push = (host: string, ...more: string[]) => cli('applier', ['push', fixture.file, '--pub', fixture.pubFile, '--registry', host, ...more]);
    const noCa = await push(tls.host);
    expect(noCa.exitCode).toBe(1);
    expect(noCa.stderr).toContain('error[REGISTRY_FAILED]: docker.io/library/tls:1: ');
    expect(noCa.stderr).toContain(tls.host);
    expect(noCa.stderr).toContain(`hint: give the CA that signed ${tls.host}'s certificate with --ca FILE`);
    const plainToTls = await push(tls.host, '--plain-http');
    expect(plainToTls.exitCode).toBe(1);
    expect(plainToTls.stderr).toContain('drop --plain-http');
    const tlsToPlain = await push(plain.host);
    expect(tlsToPlain.exitCode).toBe(1);
    expect(tlsToPlain.stderr).toContain('add --plain-http');
  });

  it('an untrusted or altered bundle is refused before any request to the registry', async () => {
    const dir = await testdir();
    const fixture = await makeBundle({ dir, images: [{ ref: 'docker.io/library/trust:1', files: { 'a.txt': 'a\n' } }] });
    const stranger = await makeBundle({ dir: await testdir() });
    const reg = await registry();
    const before = await reg.requests();
    const untrusted = await cli('applier', ['push', fixture.file, '--pub', stranger.pubFile, '--registry', reg.host, '--plain-http']);
    expect(untrusted.exitCode).toBe(2);
    expect(untrusted.stderr).toContain('error[SIGNATURE_INVALID]');
    const bytes = await readFile(fixture.file);
    const verified = await verifyBundle(fixture.file, { keys: [await loadPublicKey(fixture.pubFile)] });
    const at = verified.locations.find((l) => l.entry.path.startsWith('images/blobs/'))!.dataOffset + 3;
    bytes[at] = bytes[at]! ^ 1;
    const altered = path.join(dir, 'altered.tar');
    await writeFile(altered, bytes);
    const damaged = await cli('applier', ['push', altered, '--pub', fixture.pubFile, '--registry', reg.host, '--plain-http']);
    expect(damaged.exitCode).toBe(2);
    expect(damaged.stderr).toContain('error[DIGEST_MISMATCH]');
    expect(await reg.requests()).toEqual(before);
  });

  it('killed mid-push, a re-run sends only the blobs the registry does not have', async () => {
    const dir = await testdir();
    const fixture = await makeBundle({
      dir,
      images: Array.from({ length: 4 }, (_, i) => ({ ref: `docker.io/library/big${i}:1`, files: { 'data.txt': randomBytes(400_000).toString('base64') } })),
    });
    const reg = await registry();
    const args = ['push', fixture.file, '--pub', fixture.pubFile, '--registry', reg.host, '--plain-http', '--json'];
    // Paused (test hook) right after its first upload, then killed: no cleanup, sessions left open.
    const child = execa(process.execPath, [applierTest, ...args], { reject: false, env: { AIRGAP_TEST_PAUSE_AT: 'push:uploaded' } });
    await pausedAt(child, 'push:uploaded');
    child.kill('SIGKILL');
    expect((await child).signal).toBe('SIGKILL');
    // An upload the kill cut short may still be finishing inside the registry: read its log once it
    // stops growing, so every blob it committed counts as sent before the re-run.
    let log1 = await reg.requests();
    for (let again = await settle(reg); again.length !== log1.length; again = await settle(reg)) log1 = again;
    const sent1 = committed(log1);
    const all = blobDigests(fixture);
    expect(sent1.size).toBeGreaterThan(0);
    expect(sent1.size).toBeLessThan(all.size);

    const rerun = await cli('applier', args);
    expect(rerun.exitCode).toBe(0);
    const log2 = (await reg.requests()).slice(log1.length);
    const sent2 = committed(log2);
    expect([...sent2].filter((d) => sent1.has(d))).toEqual([]);
    expect(new Set([...sent1, ...sent2])).toEqual(all);
    expect(done(rerun.stdout)).toMatchObject({ images: 4, blobsUploaded: sent2.size, blobsPresent: all.size - sent2.size, manifestsPushed: 4 });
    console.log(`interrupted push: ${sent1.size} of ${all.size} blobs committed before the kill; the re-run uploaded ${sent2.size}`);
  });

  it('refuses bad arguments before reading the bundle', async () => {
    const cases: [string[], string][] = [
      [['b.tar'], 'push needs --registry HOST[:PORT]'],
      [['b.tar', '--registry', 'https://r:5000'], '--registry https://r:5000 is not HOST[:PORT]'],
      [['b.tar', '--registry', 'r:5000', '--user', 'u'], '--user and --password-stdin go together'],
      [['b.tar', '--registry', 'r:5000', '--prefix', 'Mirror/'], '--prefix "Mirror/" is not a repository path'],
      [['b.tar', '--registry', 'r:5000', '--plain-http', '--ca', 'ca.crt'], '--ca and --plain-http do not go together'],
      [['b.tar', '--registry', 'r:5000', '--chunk-size', '12'], '--chunk-size 12 is not a size of at least 1K'],
    ];
    for (const [args, message] of cases) {
      const r = await cli('applier', ['push', ...args]);
      expect(r.exitCode).toBe(2);
      expect(r.stderr).toContain(`error[USAGE]: ${message}`);
    }
  });
});

/** A re-push with --json (it only HEADs): the events say what each tag points at. */
async function jsonPushOf(fixture: BundleFixture, reg: TestRegistry): Promise<string> {
  const r = await cli(
    'applier',
    [
      'push',
      fixture.file,
      '--pub',
      fixture.pubFile,
      '--registry',
      reg.host,
      '--ca',
      reg.certs!.caFile,
      '--user',
      reg.user!.name,
      '--password-stdin',
      '--prefix',
      'mirror',
      '--json',
    ],
    { input: reg.user!.password },
  );
  expect(r.exitCode).toBe(1);
  expect(done(r.stdout)).toMatchObject({ blobsUploaded: 0, manifestsPushed: 0 });
  return r.stdout;
}

async function settle(reg: TestRegistry): Promise<RegistryRequestLog[]> {
  await new Promise((resolve) => setTimeout(resolve, 300));
  return reg.requests();
}
