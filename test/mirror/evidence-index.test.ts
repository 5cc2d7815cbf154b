import { copyFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadPublicKey, verifyBundle, type VerifiedBundle } from '@airgap/core';
import { bundleRegistry } from '../../packages/applier/src/serve/bundle-registry.ts';
import { serveBundle } from '../../packages/applier/src/serve/serve.ts';
import { cli } from '../support/cli.ts';
import { buildEvidenceSite, putBlob, putManifest, sha } from '../support/cosign-evidence.ts';
import { makeImage, type MadeImage } from '../support/oci-images.ts';
import { pushLayout, startRegistry, type TestRegistry } from '../support/registry.ts';
import { testdir } from '../support/tmpdir.ts';

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
const ARTIFACT = 'application/vnd.example.attestations.v1';

/** A manifest as a registry serves it: status and the bytes' own digest. */
async function getManifest(base: string, repo: string, reference: string): Promise<{ status: number; digest: string; body: Buffer }> {
  const res = await request(`${base}/v2/${repo}/manifests/${reference}`, { headers: { accept: `${OCI_MANIFEST}, ${OCI_INDEX}` } });
  const body = Buffer.from(await res.body.arrayBuffer());
  return { status: res.statusCode, digest: sha(body), body };
}

interface IndexReferrer {
  index: string;
  children: string[];
  layers: string[];
  fallback: string;
}

/**
 * A referrer that is an OCI index (a multi-part artifact, as attestation tools publish a bundle of
 * statements): the index has `subject` and `artifactType` and lists two manifests, each an
 * in-toto statement layer over an empty config; on docker-registry 2.8 (no referrers API) the
 * fallback tag `sha256-<hex>` lists the index (distribution-spec v1.1.0, "Referrers Tag Schema").
 */
async function publishIndexReferrer(reg: TestRegistry, repo: string, image: MadeImage): Promise<IndexReferrer> {
  const head = await request(`${reg.url}/v2/${repo}/manifests/${image.digest}`, { method: 'HEAD', headers: { accept: image.mediaType } });
  await head.body.dump();
  const empty = await putBlob(reg.url, repo, Buffer.from('{}'));
  const children: { digest: string; size: number }[] = [];
  const layers: string[] = [];
  for (const predicate of ['https://slsa.dev/provenance/v1', 'https://spdx.dev/Document']) {
    const statement = Buffer.from(JSON.stringify({ _type: 'https://in-toto.io/Statement/v1', predicateType: predicate, subject: [], predicate: {} }));
    const layer = await putBlob(reg.url, repo, statement);
    layers.push(layer.digest);
    const m = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        artifactType: 'application/vnd.in-toto+json',
        config: { mediaType: 'application/vnd.oci.empty.v1+json', ...empty },
        layers: [{ mediaType: 'application/vnd.in-toto+json', ...layer, annotations: { 'in-toto.io/predicate-type': predicate } }],
      }),
    );
    children.push({ digest: await putManifest(reg.url, repo, sha(m), m), size: m.length });
  }
  const index = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_INDEX,
      artifactType: ARTIFACT,
      manifests: children.map((c) => ({ mediaType: OCI_MANIFEST, ...c })),
      subject: { mediaType: image.mediaType, digest: image.digest, size: Number(head.headers['content-length']) },
    }),
  );
  const indexDigest = await putManifest(reg.url, repo, sha(index), index, OCI_INDEX);
  const listing = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_INDEX,
      manifests: [{ mediaType: OCI_INDEX, digest: indexDigest, size: index.length, artifactType: ARTIFACT }],
    }),
  );
  const fallback = await putManifest(reg.url, repo, image.digest.replace(':', '-'), listing, OCI_INDEX);
  return { index: indexDigest, children: children.map((c) => c.digest), layers, fallback };
}

describe('a referrer that is an index is carried with its manifests and blobs, pushed back and served', () => {
  let source: TestRegistry;
  let image: MadeImage;
  let ref: IndexReferrer;
  let built: { dir: string; bundle: VerifiedBundle };
  let kept: string | undefined;
  const mirrors: TestRegistry[] = [];

  beforeAll(async () => {
    source = await startRegistry();
    const layout = await testdir();
    image = await makeImage({ layoutDir: layout, tag: 'attested', platforms: ['linux/amd64'], layerSizes: [9_000] });
    await pushLayout(source, layout, 'attested', 'apps/attested:1');
    ref = await publishIndexReferrer(source, 'apps/attested', image);
    const site = await buildEvidenceSite(source, [`${source.host}/apps/attested:1`]);
    kept = await mkdtemp(path.join(tmpdir(), 'airgap-evidence-index-'));
    await mkdir(path.join(kept, 'keys'));
    await copyFile(path.join(site.dir, 'bundle.tar'), path.join(kept, 'bundle.tar'));
    await copyFile(path.join(site.dir, 'keys/site.pub'), path.join(kept, 'keys/site.pub'));
    built = { dir: kept, bundle: await verifyBundle(path.join(kept, 'bundle.tar'), { keys: [await loadPublicKey(path.join(kept, 'keys/site.pub'))] }) };
  }, 180_000);
  afterAll(async () => {
    for (const r of [source, ...mirrors]) await r?.stop();
    if (kept) await rm(kept, { recursive: true, force: true });
  });

  it('the bundle lists the index as a referrer and carries its child manifests and their blobs', () => {
    const evidence = built.bundle.manifest.images.find((i) => i.ref === `${source.host}/apps/attested:1`)!.evidence!;
    expect(evidence.map((e) => [e.kind, e.digest, e.mediaType])).toEqual([
      ['referrers-tag', ref.fallback, OCI_INDEX],
      ['referrer', ref.index, OCI_INDEX],
    ]);
    expect(evidence[1]!.artifactType).toBe(ARTIFACT);
    const paths = new Set(built.bundle.manifest.entries.map((e) => e.path));
    for (const d of [ref.index, ...ref.children, ...ref.layers])
      expect(paths.has(`${built.bundle.manifest.imageLayout}/blobs/sha256/${d.slice(7)}`), d).toBe(true);
  });

  it('push puts the children before the index, the same digests as upstream (skopeo reads them back), and a second push sends nothing', async () => {
    const reg = await startRegistry();
    mirrors.push(reg);
    const push = () =>
      cli('applier', [
        'push',
        path.join(built.dir, 'bundle.tar'),
        '--pub',
        path.join(built.dir, 'keys/site.pub'),
        '--registry',
        reg.host,
        '--plain-http',
        '--json',
      ]);
    const first = await push();
    expect(first.stderr).toBe('');
    expect(first.exitCode).toBe(0);
    for (const d of [ref.index, ...ref.children]) {
      const m = await getManifest(reg.url, 'apps/attested', d);
      expect(m.status, d).toBe(200);
      expect(m.digest, d).toBe(d);
    }
    const raw = await execa('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${reg.host}/apps/attested@${ref.index}`], { encoding: 'buffer' });
    expect(sha(Buffer.from(raw.stdout))).toBe(ref.index);
    for (const d of ref.layers) {
      const res = await request(`${reg.url}/v2/apps/attested/blobs/${d}`);
      expect(sha(Buffer.from(await res.body.arrayBuffer()))).toBe(d);
    }
    // The fallback tag is upstream's, byte for byte: it lists exactly what was pushed.
    expect((await getManifest(reg.url, 'apps/attested', `sha256-${image.digest.slice(7)}`)).digest).toBe(ref.fallback);

    const again = await push();
    expect(again.exitCode).toBe(0);
    expect(again.stdout).toContain('"evidence":{"pushed":0,"present":1');
    const events = again.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { type: string; digest?: string; action?: string });
    for (const d of ref.children) expect(events.find((e) => e.type === 'manifest' && e.digest === d)?.action, d).toBe('present');
  }, 180_000);

  it('serve lists the index among the referrers and answers it and its manifests by digest', async () => {
    const server = await serveBundle({ registry: await bundleRegistry(built.bundle), host: '127.0.0.1', port: 0 });
    try {
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const listing = (await (await request(`${base}/v2/apps/attested/referrers/${image.digest}`)).body.json()) as { manifests: unknown[] };
      expect(listing.manifests).toEqual([{ mediaType: OCI_INDEX, digest: ref.index, size: expect.any(Number), artifactType: ARTIFACT }]);
      for (const d of [ref.index, ...ref.children]) expect((await getManifest(base, 'apps/attested', d)).digest, d).toBe(d);
      const blob = await request(`${base}/v2/apps/attested/blobs/${ref.layers[0]}`);
      expect(sha(Buffer.from(await blob.body.arrayBuffer()))).toBe(ref.layers[0]);
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});
