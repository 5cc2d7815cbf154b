import { createHash, sign } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { execa } from 'execa';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadPublicKey, verifyBundle, type BundleEvidence, type VerifiedBundle } from '@airgap/core';
import { bundleRegistry } from '../../packages/applier/src/serve/bundle-registry.ts';
import { serveBundle } from '../../packages/applier/src/serve/serve.ts';
import { cli } from '../support/cli.ts';
import {
  buildEvidenceSite,
  cosignKey,
  publishEvidence,
  putBlob,
  putManifest,
  sha,
  simpleSigningPayload,
  type CosignKey,
  type MadeEvidence,
} from '../support/cosign-evidence.ts';
import { makeImage, type MadeImage } from '../support/oci-images.ts';
import { pushLayout, startRegistry, type TestRegistry } from '../support/registry.ts';
import { testdir } from '../support/tmpdir.ts';

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';

/** A manifest as a registry serves it: status, digest header and the bytes' own digest. */
async function getManifest(base: string, repo: string, reference: string): Promise<{ status: number; header?: string; digest: string; body: Buffer }> {
  const res = await request(`${base}/v2/${repo}/manifests/${reference}`, { headers: { accept: `${OCI_MANIFEST}, ${OCI_INDEX}` } });
  const body = Buffer.from(await res.body.arrayBuffer());
  const header = res.headers['docker-content-digest'];
  return { status: res.statusCode, ...(typeof header === 'string' ? { header } : {}), digest: sha(body), body };
}

const push = (dir: string, reg: TestRegistry) =>
  cli('applier', ['push', path.join(dir, 'bundle.tar'), '--pub', path.join(dir, 'keys/site.pub'), '--registry', reg.host, '--plain-http', '--json']);
const verifyImages = (dir: string, reg: TestRegistry, keyFile: string) =>
  cli('applier', [
    'verify-images',
    path.join(dir, 'bundle.tar'),
    '--pub',
    path.join(dir, 'keys/site.pub'),
    '--registry',
    reg.host,
    '--plain-http',
    '--key',
    keyFile,
  ]);

describe('evidence across the gap: applier push writes it as upstream had it, serve answers it, verify-images checks the mirror', () => {
  let source: TestRegistry;
  let image: MadeImage;
  let ev: MadeEvidence;
  let key: CosignKey;
  let built: { dir: string; bundle: VerifiedBundle };
  let kept: string | undefined;
  const ref = () => `${source.host}/apps/signed:1`;
  const hex = () => image.digest.slice(7);
  const mirrors: TestRegistry[] = [];
  const mirror = async () => {
    const r = await startRegistry();
    mirrors.push(r);
    return r;
  };

  beforeAll(async () => {
    source = await startRegistry();
    const layout = await testdir();
    image = await makeImage({ layoutDir: layout, tag: 'signed', platforms: ['linux/amd64'], layerSizes: [20_000] });
    await pushLayout(source, layout, 'signed', 'apps/signed:1');
    key = cosignKey();
    ev = await publishEvidence({ base: source.url, repo: 'apps/signed', host: source.host, digest: image.digest, key });
    // testdir folders go after each test: keep the bundle and its keys for all of them.
    const site = await buildEvidenceSite(source, [ref()]);
    kept = await mkdtemp(path.join(tmpdir(), 'airgap-evidence-'));
    await mkdir(path.join(kept, 'keys'));
    await copyFile(path.join(site.dir, 'bundle.tar'), path.join(kept, 'bundle.tar'));
    await copyFile(path.join(site.dir, 'keys/site.pub'), path.join(kept, 'keys/site.pub'));
    await writeFile(path.join(kept, 'cosign.pub'), key.publicPem);
    await writeFile(path.join(kept, 'other.pub'), cosignKey().publicPem);
    built = { dir: kept, bundle: await verifyBundle(path.join(kept, 'bundle.tar'), { keys: [await loadPublicKey(path.join(kept, 'keys/site.pub'))] }) };
  }, 180_000);
  afterAll(async () => {
    for (const r of [source, ...mirrors]) await r?.stop();
    if (kept) await rm(kept, { recursive: true, force: true });
  });

  it('push gives a fresh mirror the same tags and digests as upstream (skopeo reads them back), and a second push sends nothing', async () => {
    const reg = await mirror();
    const first = await push(built.dir, reg);
    expect(first.stderr).toBe('');
    expect(first.exitCode).toBe(0);
    const done = first.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { type: string; evidence?: { pushed: number; present: number; referrersApi: boolean; referrersTags: { action: string }[] } })
      .find((e) => e.type === 'done')!;
    expect(done.evidence).toMatchObject({ pushed: 4, present: 0, referrersApi: false, referrersTags: [{ action: 'pushed' }] });

    for (const [tag, digest] of [
      [`sha256-${hex()}.sig`, ev.sig],
      [`sha256-${hex()}.att`, ev.att],
      [`sha256-${hex()}.sbom`, ev.sbom],
      [`sha256-${hex()}`, ev.fallbackIndex],
    ] as const) {
      const up = await getManifest(source.url, 'apps/signed', tag);
      const down = await getManifest(reg.url, 'apps/signed', tag);
      expect(down.status, tag).toBe(200);
      expect(down.digest, tag).toBe(digest);
      expect(down.header, tag).toBe(digest);
      expect(down.body.equals(up.body), tag).toBe(true);
      const raw = await execa('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${reg.host}/apps/signed:${tag}`], { encoding: 'buffer' });
      expect(sha(Buffer.from(raw.stdout)), `skopeo ${tag}`).toBe(digest);
    }
    // The referrer by its digest, and every blob of the evidence: the same bytes upstream has.
    expect((await getManifest(reg.url, 'apps/signed', ev.referrer)).digest).toBe(ev.referrer);
    for (const d of [ev.sbomBlob, sha(ev.payload)]) {
      const res = await request(`${reg.url}/v2/apps/signed/blobs/${d}`);
      expect(sha(Buffer.from(await res.body.arrayBuffer()))).toBe(d);
    }
    const tags = (await (await request(`${reg.url}/v2/apps/signed/tags/list`)).body.json()) as { tags: string[] };
    expect(tags.tags.sort()).toEqual(['1', `sha256-${hex()}`, `sha256-${hex()}.att`, `sha256-${hex()}.sbom`, `sha256-${hex()}.sig`].sort());

    const again = await push(built.dir, reg);
    expect(again.exitCode).toBe(0);
    expect(again.stdout).toContain('"evidence":{"pushed":0,"present":4');
    expect(again.stdout).toContain('"action":"present"}');
  }, 180_000);

  it("merges into a referrers tag the mirror already has, keeping the mirror's own referrer", async () => {
    const reg = await mirror();
    // The mirror holds the image (pushed earlier from elsewhere) and its own referrer, listed under the fallback tag.
    const config = await putBlob(reg.url, 'apps/signed', Buffer.from('{}'));
    const note = await putBlob(reg.url, 'apps/signed', Buffer.from('site note\n'));
    const own = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        artifactType: 'application/vnd.example.note',
        config: { mediaType: 'application/vnd.oci.empty.v1+json', ...config },
        layers: [{ mediaType: 'text/plain', ...note }],
        subject: { mediaType: OCI_MANIFEST, digest: image.digest, size: 1 },
      }),
    );
    const ownDigest = await putManifest(reg.url, 'apps/signed', sha(own), own);
    const index = {
      schemaVersion: 2,
      mediaType: OCI_INDEX,
      manifests: [{ mediaType: OCI_MANIFEST, digest: ownDigest, size: own.length, artifactType: 'application/vnd.example.note' }],
    };
    await putManifest(reg.url, 'apps/signed', `sha256-${hex()}`, Buffer.from(JSON.stringify(index)), OCI_INDEX);

    const r = await push(built.dir, reg);
    expect(r.exitCode).toBe(0);
    const merged = await getManifest(reg.url, 'apps/signed', `sha256-${hex()}`);
    const listed = (JSON.parse(merged.body.toString('utf8')) as { manifests: { digest: string; artifactType?: string }[] }).manifests;
    expect(listed.map((d) => d.digest)).toEqual([ownDigest, ev.referrer]);
    expect(listed[1]!.artifactType).toBe('application/spdx+json');
  }, 180_000);

  it('serve answers the cosign tags, the fallback tag and GET /v2/<name>/referrers/<digest> with the artifactType filter', async () => {
    const server = await serveBundle({ registry: await bundleRegistry(built.bundle), host: '127.0.0.1', port: 0 });
    try {
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      expect((await getManifest(base, 'apps/signed', `sha256-${hex()}.sig`)).digest).toBe(ev.sig);
      expect((await getManifest(base, 'apps/signed', `sha256-${hex()}.sig`)).header).toBe(ev.sig);
      expect((await getManifest(base, 'apps/signed', `sha256-${hex()}`)).digest).toBe(ev.fallbackIndex);
      const tags = (await (await request(`${base}/v2/apps/signed/tags/list`)).body.json()) as { tags: string[] };
      expect(tags.tags).toContain(`sha256-${hex()}.att`);

      const all = await request(`${base}/v2/apps/signed/referrers/${image.digest}`);
      expect(all.statusCode).toBe(200);
      expect(all.headers['content-type']).toBe(OCI_INDEX);
      const listing = (await all.body.json()) as {
        mediaType: string;
        manifests: { digest: string; artifactType: string; annotations?: Record<string, string> }[];
      };
      expect(listing.mediaType).toBe(OCI_INDEX);
      expect(listing.manifests).toEqual([
        {
          mediaType: OCI_MANIFEST,
          digest: ev.referrer,
          size: expect.any(Number),
          artifactType: 'application/spdx+json',
          annotations: { 'org.opencontainers.image.created': '2026-01-01T00:00:00Z' },
        },
      ]);
      const kept = await request(`${base}/v2/apps/signed/referrers/${image.digest}?artifactType=application/spdx%2Bjson`);
      expect(kept.headers['oci-filters-applied']).toBe('artifactType');
      expect(((await kept.body.json()) as { manifests: unknown[] }).manifests).toHaveLength(1);
      const none = await request(`${base}/v2/apps/signed/referrers/${image.digest}?artifactType=application/vnd.other`);
      expect(((await none.body.json()) as { manifests: unknown[] }).manifests).toEqual([]);
      const unknown = await request(`${base}/v2/apps/other/referrers/${image.digest}`);
      await unknown.body.dump();
      expect(unknown.statusCode).toBe(404);
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
  });

  it('the bundler reads referrers through the referrers API where the registry has one (applier serve), and push writes the fallback tag from them', async () => {
    const server = await serveBundle({ registry: await bundleRegistry(built.bundle), host: '127.0.0.1', port: 0 });
    try {
      const host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
      const second = await buildEvidenceSite({ host, url: `http://${host}` }, [`${host}/apps/signed:1`]);
      const evidence = second.bundle.manifest.images.find((i) => i.ref === `${host}/apps/signed:1`)!.evidence!;
      // Through the API there is no fallback tag to carry; the referrer and cosign's tags are the same bytes.
      expect(evidence.map((e: BundleEvidence) => [e.kind, e.digest])).toEqual([
        ['cosign-sig', ev.sig],
        ['cosign-att', ev.att],
        ['cosign-sbom', ev.sbom],
        ['referrer', ev.referrer],
      ]);
      const reg = await mirror();
      const r = await push(second.dir, reg);
      expect(r.exitCode).toBe(0);
      const tag = await getManifest(reg.url, 'apps/signed', `sha256-${hex()}`);
      expect(tag.status).toBe(200);
      const listed = (JSON.parse(tag.body.toString('utf8')) as { manifests: { digest: string; artifactType: string }[] }).manifests;
      expect(listed).toMatchObject([{ digest: ev.referrer, artifactType: 'application/spdx+json' }]);
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
  }, 180_000);

  it("verify-images accepts the mirror's copy with the signing key, and fails (exit 1) with another key or a tampered signature", async () => {
    const reg = await mirror();
    expect((await push(built.dir, reg)).exitCode).toBe(0);
    const good = await verifyImages(built.dir, reg, path.join(built.dir, 'cosign.pub'));
    expect(good.stderr).toBe('');
    expect(good.exitCode).toBe(0);
    expect(good.stdout).toMatch(new RegExp(`^OK +${ref().replace(/[.]/g, '\\.')} sha256:`, 'm'));

    const wrong = await verifyImages(built.dir, reg, path.join(built.dir, 'other.pub'));
    expect(wrong.exitCode).toBe(1);
    expect(wrong.stdout).toMatch(/^FAIL /m);
    expect(wrong.stderr).toContain('IMAGE_UNVERIFIED');

    // Someone replaces the mirror's signature: the payload now names another digest, the signature is the original one.
    const sigManifest = JSON.parse((await getManifest(reg.url, 'apps/signed', `sha256-${hex()}.sig`)).body.toString('utf8')) as {
      layers: { annotations: Record<string, string> }[];
    };
    const forged = simpleSigningPayload(`${source.host}/apps/signed`, `sha256:${createHash('sha256').update('other').digest('hex')}`);
    const layer = await putBlob(reg.url, 'apps/signed', forged);
    const tampered = {
      ...sigManifest,
      layers: [{ mediaType: 'application/vnd.dev.cosign.simplesigning.v1+json', ...layer, annotations: sigManifest.layers[0]!.annotations }],
    };
    await putManifest(reg.url, 'apps/signed', `sha256-${hex()}.sig`, Buffer.from(JSON.stringify(tampered)));
    const bad = await verifyImages(built.dir, reg, path.join(built.dir, 'cosign.pub'));
    expect(bad.exitCode).toBe(1);
    expect(bad.stdout).toMatch(/^FAIL /m);

    // A signature by another key over the right payload fails too.
    const intruder = cosignKey();
    const payload = simpleSigningPayload(`${source.host}/apps/signed`, image.digest);
    const l2 = await putBlob(reg.url, 'apps/signed', payload);
    const resigned = {
      ...sigManifest,
      layers: [
        {
          mediaType: 'application/vnd.dev.cosign.simplesigning.v1+json',
          ...l2,
          annotations: { 'dev.cosignproject.cosign/signature': sign('sha256', payload, intruder.privateKey).toString('base64') },
        },
      ],
    };
    await putManifest(reg.url, 'apps/signed', `sha256-${hex()}.sig`, Buffer.from(JSON.stringify(resigned)));
    expect((await verifyImages(built.dir, reg, path.join(built.dir, 'cosign.pub'))).exitCode).toBe(1);

    // Pushing the bundle again puts the carried signature back, and the mirror verifies again.
    expect((await push(built.dir, reg)).exitCode).toBe(0);
    expect((await verifyImages(built.dir, reg, path.join(built.dir, 'cosign.pub'))).exitCode).toBe(0);
  }, 180_000);

  it("verify-images follows the bundle's images.verify rules: their match and mode (a warn rule reports and exits 0)", async () => {
    // The rule was checked at build (the bundle records it); the mirror is checked under the same rule.
    const rules = `, verify: [{match: "${source.host}/apps/**", key: ./cosign.pub, mode: warn}]`;
    const ruled = await buildEvidenceSite(source, [ref()], rules, { 'cosign.pub': key.publicPem });
    expect(ruled.bundle.manifest.images.find((i) => i.ref === ref())!.verified).toMatchObject({ mode: 'warn', ok: true });
    await writeFile(path.join(ruled.dir, 'other.pub'), cosignKey().publicPem);
    const reg = await mirror();
    expect((await push(ruled.dir, reg)).exitCode).toBe(0);
    const ok = await verifyImages(ruled.dir, reg, path.join(ruled.dir, 'cosign.pub'));
    expect(ok.exitCode).toBe(0);
    expect(ok.stdout).toMatch(/^OK /m);
    const warned = await verifyImages(ruled.dir, reg, path.join(ruled.dir, 'other.pub'));
    expect(warned.exitCode).toBe(0);
    expect(warned.stdout).toMatch(/^WARN /m);
  }, 180_000);
});
