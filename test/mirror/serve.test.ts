import { mkdir, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { execa } from 'execa';
import { afterEach, describe, expect, it } from 'vitest';
import { loadPublicKey, verifyBundle } from '@airgap/core';
import { renderHostsFiles } from '../../packages/bundler/src/containerd/render-hosts.ts';
import { bundleRegistry } from '../../packages/applier/src/serve/bundle-registry.ts';
import { serveBundle } from '../../packages/applier/src/serve/serve.ts';
import { route, splitRef } from '../../packages/applier/src/serve/routes.ts';
import { makeBundle } from '../support/bundle-fixture.ts';
import { startContainerd } from '../support/containerd.ts';
import { testdir } from '../support/tmpdir.ts';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('applier serve: a read-only registry straight from the bundle', () => {
  it('routes distribution API paths and splits refs', () => {
    expect(route('/v2/')).toEqual({ kind: 'base' });
    expect(route('/v2/library/nginx/manifests/1.27')).toEqual({ kind: 'manifest', repo: 'library/nginx', reference: '1.27' });
    expect(route(`/v2/a/b/blobs/sha256:${'a'.repeat(64)}`)).toEqual({ kind: 'blob', repo: 'a/b', digest: `sha256:${'a'.repeat(64)}` });
    expect(route('/v2/../etc/passwd/blobs/x')).toBeUndefined();
    expect(route('/v2/a/blobs/sha256:short')).toBeUndefined();
    expect(splitRef('docker.io/library/nginx:1.27')).toEqual({ registry: 'docker.io', repo: 'library/nginx', tag: '1.27' });
    expect(splitRef('localhost:5000/x/y@sha256:ab')).toEqual({ registry: 'localhost:5000', repo: 'x/y', digest: 'sha256:ab' });
  });

  it('a real containerd pulls through hosts.toml from the served bundle, with the upstream name and the bundle digest', async () => {
    const dir = await testdir();
    const fixture = await makeBundle({
      dir,
      images: [
        { ref: 'docker.io/library/hello:1.0', files: { 'hello.txt': 'hello from the bundle\n' } },
        { ref: 'ghcr.io/canonical/tool:2.1', files: { 'bin/tool': '#!/bin/sh\necho tool\n' } },
      ],
    });
    const bundle = await verifyBundle(fixture.file, { keys: [await loadPublicKey(fixture.pubFile)] });
    const log: string[] = [];
    const server = await serveBundle({
      registry: await bundleRegistry(bundle),
      host: '127.0.0.1',
      port: 0,
      log: (e) => log.push('dropped' in e ? 'dropped' : `${e.method} ${e.url} ${e.status}`),
    });
    cleanups.push(() => new Promise((r) => server.close(() => r())));
    const port = (server.address() as AddressInfo).port;

    const hostsDir = path.join(dir, 'hosts.d');
    for (const f of renderHostsFiles({
      mirrors: [
        {
          registries: ['docker.io', 'ghcr.io'],
          endpoint: `http://127.0.0.1:${port}`,
          capabilities: ['pull', 'resolve'],
          skipVerify: false,
          overridePath: false,
        },
      ],
      hostsDir,
      caData: new Map(),
    })) {
      await mkdir(path.dirname(path.join(hostsDir, f.target)), { recursive: true });
      await writeFile(path.join(hostsDir, f.target), f.data);
    }
    const containerd = await startContainerd();
    cleanups.push(() => containerd.stop());
    const ctr = (...args: string[]) => execa('ctr', ['--address', containerd.address, '--namespace', 'k8s.io', ...args]);
    for (const image of fixture.manifest.images) {
      await ctr('images', 'pull', '--hosts-dir', hostsDir, image.ref);
      const listed = (await ctr('images', 'ls')).stdout;
      const line = listed.split('\n').find((l) => l.startsWith(`${image.ref} `));
      expect(line).toBeDefined();
      expect(line).toContain(image.digest);
    }
    // containerd resolved the tag through the mirror, naming the upstream registry in `ns`.
    expect(log).toContain('HEAD /v2/canonical/tool/manifests/2.1?ns=ghcr.io 200');
    expect(log.filter((l) => l.startsWith('GET /v2/library/hello/blobs/sha256:') && l.endsWith('?ns=docker.io 200'))).toHaveLength(2);
    // Read-only, and unknown names are 404 in the distribution API's error format.
    const put = await fetch(`http://127.0.0.1:${port}/v2/library/hello/manifests/1.0`, { method: 'PUT', body: '{}' });
    expect(put.status).toBe(405);
    const missing = await fetch(`http://127.0.0.1:${port}/v2/library/nope/manifests/1.0`);
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { errors: { code: string }[] }).errors[0]?.code).toBe('MANIFEST_UNKNOWN');
  });

  it('`applier serve` verifies first (exit 2 on a wrong key), then serves until SIGTERM', async () => {
    const dir = await testdir();
    const fixture = await makeBundle({ dir, images: [{ ref: 'docker.io/library/hello:1.0', files: { 'a.txt': 'a' } }] });
    const other = await makeBundle({ dir: await testdir() });
    const applier = path.resolve(import.meta.dirname, '../../dist/applier.mjs');
    const refused = await execa(process.execPath, [applier, 'serve', fixture.file, '--pub', other.pubFile, '--listen', '127.0.0.1:0'], { reject: false });
    expect(refused.exitCode).toBe(2);
    expect(refused.stderr).toContain('error[SIGNATURE_INVALID]');
    const child = execa(process.execPath, [applier, 'serve', fixture.file, '--pub', fixture.pubFile, '--listen', '127.0.0.1:0'], { reject: false });
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout?.on('data', (chunk: Buffer) => {
        const m = /at (http:\/\/127\.0\.0\.1:\d+)/.exec(chunk.toString());
        if (m?.[1]) resolve(m[1]);
      });
      child.once('exit', () => reject(new Error('serve exited before listening')));
    });
    const base = await fetch(`${url}/v2/`);
    expect(base.status).toBe(200);
    expect(base.headers.get('docker-distribution-api-version')).toBe('registry/2.0');
    const head = await fetch(`${url}/v2/library/hello/manifests/1.0?ns=docker.io`, { method: 'HEAD' });
    expect(head.headers.get('docker-content-digest')).toBe(fixture.manifest.images[0]!.digest);
    child.kill('SIGTERM');
    expect((await child).exitCode).toBe(0);
  });
});
