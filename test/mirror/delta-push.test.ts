import { afterEach, describe, expect, it } from 'vitest';
import { cli } from '../support/cli.ts';
import { startRegistry, type RegistryRequestLog, type TestRegistry } from '../support/registry.ts';
import { testdir } from '../support/tmpdir.ts';
import { deltaPair } from '../bundle/delta-fixture.ts';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function registry(): Promise<TestRegistry> {
  const r = await startRegistry();
  cleanups.push(() => r.stop());
  return r;
}

/** Requests that change the registry: blob uploads and mounts, manifest PUTs. */
const writes = (log: RegistryRequestLog[]) => log.filter((r) => r.method !== 'HEAD' && r.method !== 'GET');

/** The registry serves the image under its tag at the bundle's digest, and has every blob its manifest names. */
async function served(reg: TestRegistry, repository: string, tag: string, digest: string): Promise<void> {
  const accept = 'application/vnd.oci.image.manifest.v1+json';
  const m = await fetch(`${reg.url}/v2/${repository}/manifests/${tag}`, { headers: { accept } });
  expect(m.status, `${repository}:${tag}`).toBe(200);
  expect(m.headers.get('docker-content-digest')).toBe(digest);
  const doc = (await m.json()) as { config: { digest: string }; layers: { digest: string }[] };
  for (const d of [doc.config, ...doc.layers]) expect((await fetch(`${reg.url}/v2/${repository}/blobs/${d.digest}`, { method: 'HEAD' })).status).toBe(200);
}

describe('applier push of a delta bundle, to a real docker-registry', () => {
  it('to a registry holding the base: sends only the changed image; to an empty one: refused naming the missing blobs, nothing written; with --base: all of it', async () => {
    const dir = await testdir();
    const { base, delta } = await deltaPair(dir);
    const push = (reg: TestRegistry, file: string, ...more: string[]) =>
      cli('applier', ['push', file, '--pub', base.pubFile, '--registry', reg.host, '--plain-http', ...more]);
    const images = delta.manifest.images.filter((i) => !i.ref.includes('@'));

    const held = await registry();
    expect((await push(held, base.file)).exitCode).toBe(0);
    const before = (await held.requests()).length;
    const r = await push(held, delta.file);
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
    // Only app5 changed: its manifest, config and layer are the only writes.
    const w = writes((await held.requests()).slice(before));
    expect(w.filter((x) => x.uri.includes('/manifests/')).every((x) => x.uri.startsWith('/v2/site/app5/'))).toBe(true);
    expect(w.filter((x) => x.uri.includes('/blobs/uploads/')).every((x) => x.uri.startsWith('/v2/site/app5/'))).toBe(true);
    for (const i of images) await served(held, `site/${/app\d/.exec(i.ref)![0]}`, '1.0', i.digest);

    const empty = await registry();
    const refused = await push(empty, delta.file);
    expect(refused.exitCode).toBe(2);
    const omittedBlob = delta.manifest.base!.omitted.find((e) => e.path.startsWith('images/blobs/'))!;
    expect(refused.stderr).toContain(`error[DELTA_BASE_MISSING]: ${delta.file} is a delta of site sha256:`);
    expect(refused.stderr).toContain(`registry.example/site/app0:1.0 (${empty.host}/site/app0): sha256:`);
    expect(refused.stderr).toContain(`sha256:${omittedBlob.sha256}`);
    expect(refused.stderr).toContain('nothing was pushed');
    expect(refused.stderr).toContain('push the base bundle site to this registry first, or pass --base with it');
    expect(writes(await empty.requests())).toEqual([]);

    const withBase = await push(empty, delta.file, '--base', base.file);
    expect(withBase.stderr).toBe('');
    expect(withBase.exitCode).toBe(0);
    for (const i of images) await served(empty, `site/${/app\d/.exec(i.ref)![0]}`, '1.0', i.digest);
  });
});
