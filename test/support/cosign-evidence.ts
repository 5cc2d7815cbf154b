import { createHash, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { expect } from 'vitest';
import { loadPublicKey, verifyBundle, type VerifiedBundle } from '@airgap/core';
import { request } from 'undici';
import { cli } from './cli.ts';
import { site } from './site-fixture.ts';

/**
 * Evidence in the layouts cosign and OCI 1.1 tools write, put into a test registry over plain HTTP:
 * - `sha256-<hex>.sig`: cosign's signature manifest (sigstore/cosign pkg/oci/static/signature.go,
 *   pkg/oci/mutate): one layer per signature, the simple-signing payload
 *   (`application/vnd.dev.cosign.simplesigning.v1+json`) with the base64 ECDSA signature over the
 *   payload bytes in the `dev.cosignproject.cosign/signature` annotation;
 * - `sha256-<hex>.att`: an attestation manifest, a DSSE envelope layer (`application/vnd.dsse.envelope.v1+json`);
 * - `sha256-<hex>.sbom`: `cosign attach sbom`'s manifest, the SPDX document as the layer (`text/spdx+json`);
 * - an OCI 1.1 referrer (a manifest with `subject` and `artifactType`) plus, as a client does on a
 *   registry without the referrers API, the fallback tag `sha256-<hex>` holding an index of it.
 */
export interface CosignKey {
  privateKey: KeyObject;
  /** SPKI PEM, as `cosign generate-key-pair` writes cosign.pub. */
  publicPem: string;
}

export function cosignKey(): CosignKey {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { privateKey, publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString() };
}

export const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

/** cosign's simple-signing payload for `repo@digest` (sigstore/cosign pkg/cosign/payload, containers/image signature/simple.go). */
export function simpleSigningPayload(dockerReference: string, digest: string): Buffer {
  return Buffer.from(
    JSON.stringify({
      critical: { identity: { 'docker-reference': dockerReference }, image: { 'docker-manifest-digest': digest }, type: 'cosign container image signature' },
      optional: null,
    }),
  );
}

export async function putBlob(base: string, repo: string, data: Buffer): Promise<{ digest: string; size: number }> {
  const digest = sha(data);
  const start = await request(`${base}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
  await start.body.dump();
  if (start.statusCode !== 202) throw new Error(`upload start ${start.statusCode}`);
  const location = new URL(String(start.headers.location), base);
  location.searchParams.set('digest', digest);
  const done = await request(location.toString(), { method: 'PUT', body: data, headers: { 'content-type': 'application/octet-stream' } });
  await done.body.dump();
  if (done.statusCode !== 201) throw new Error(`upload ${done.statusCode}`);
  return { digest, size: data.length };
}

export async function putManifest(base: string, repo: string, reference: string, bytes: Buffer, mediaType = OCI_MANIFEST): Promise<string> {
  const res = await request(`${base}/v2/${repo}/manifests/${reference}`, { method: 'PUT', body: bytes, headers: { 'content-type': mediaType } });
  const text = await res.body.text();
  if (res.statusCode !== 201) throw new Error(`manifest PUT ${reference}: ${res.statusCode} ${text}`);
  return sha(bytes);
}

/** A manifest over `layers` with a config naming their diff ids, as cosign's static images have. */
async function artifactManifest(
  base: string,
  repo: string,
  layers: { mediaType: string; data: Buffer; annotations?: Record<string, string> }[],
  extra: Record<string, unknown> = {},
): Promise<Buffer> {
  const descs = [];
  for (const l of layers)
    descs.push({ mediaType: l.mediaType, ...(await putBlob(base, repo, l.data)), ...(l.annotations ? { annotations: l.annotations } : {}) });
  const config = await putBlob(
    base,
    repo,
    Buffer.from(JSON.stringify({ architecture: '', os: '', config: {}, rootfs: { type: 'layers', diff_ids: descs.map((d) => d.digest) } })),
  );
  return Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
      layers: descs,
      ...extra,
    }),
  );
}

export interface MadeEvidence {
  sig: string;
  att: string;
  sbom: string;
  referrer: string;
  fallbackIndex: string;
  /** The SBOM document's blob digest, shared by the `.sbom` manifest and the referrer. */
  sbomBlob: string;
  payload: Buffer;
}

/** Sign `digest` in `repo` with `key` and publish an attestation, an SBOM and a referrer beside it. */
export async function publishEvidence(o: { base: string; repo: string; host: string; digest: string; key: CosignKey }): Promise<MadeEvidence> {
  const hex = o.digest.slice('sha256:'.length);
  const payload = simpleSigningPayload(`${o.host}/${o.repo}`, o.digest);
  const signature = sign('sha256', payload, o.key.privateKey).toString('base64');
  const sigManifest = await artifactManifest(o.base, o.repo, [
    { mediaType: 'application/vnd.dev.cosign.simplesigning.v1+json', data: payload, annotations: { 'dev.cosignproject.cosign/signature': signature } },
  ]);
  const sig = await putManifest(o.base, o.repo, `sha256-${hex}.sig`, sigManifest);

  const statement = Buffer.from(
    JSON.stringify({
      _type: 'https://in-toto.io/Statement/v0.1',
      predicateType: 'https://slsa.dev/provenance/v0.2',
      subject: [{ name: `${o.host}/${o.repo}`, digest: { sha256: hex } }],
      predicate: { builder: { id: 'test' } },
    }),
  );
  const envelope = Buffer.from(JSON.stringify({ payloadType: 'application/vnd.in-toto+json', payload: statement.toString('base64'), signatures: [] }));
  const att = await putManifest(
    o.base,
    o.repo,
    `sha256-${hex}.att`,
    await artifactManifest(o.base, o.repo, [
      { mediaType: 'application/vnd.dsse.envelope.v1+json', data: envelope, annotations: { predicateType: 'https://slsa.dev/provenance/v0.2' } },
    ]),
  );

  const spdx = Buffer.from(JSON.stringify({ spdxVersion: 'SPDX-2.3', name: `${o.repo}@${o.digest}`, packages: [] }));
  const sbom = await putManifest(o.base, o.repo, `sha256-${hex}.sbom`, await artifactManifest(o.base, o.repo, [{ mediaType: 'text/spdx+json', data: spdx }]));

  // An OCI 1.1 referrer: empty config, the same SPDX blob, the image as subject.
  const empty = await putBlob(o.base, o.repo, Buffer.from('{}'));
  const layer = await putBlob(o.base, o.repo, spdx);
  const subjectManifest = await request(`${o.base}/v2/${o.repo}/manifests/${o.digest}`, {
    method: 'HEAD',
    headers: { accept: `${OCI_MANIFEST}, application/vnd.oci.image.index.v1+json` },
  });
  await subjectManifest.body.dump();
  const artifactType = 'application/spdx+json';
  const referrerBytes = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      artifactType,
      config: { mediaType: 'application/vnd.oci.empty.v1+json', ...empty },
      layers: [{ mediaType: 'application/spdx+json', ...layer }],
      subject: { mediaType: String(subjectManifest.headers['content-type']), digest: o.digest, size: Number(subjectManifest.headers['content-length']) },
      annotations: { 'org.opencontainers.image.created': '2026-01-01T00:00:00Z' },
    }),
  );
  const referrer = await putManifest(o.base, o.repo, sha(referrerBytes), referrerBytes);
  const fallback = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: [
        {
          mediaType: OCI_MANIFEST,
          digest: referrer,
          size: referrerBytes.length,
          artifactType,
          annotations: { 'org.opencontainers.image.created': '2026-01-01T00:00:00Z' },
        },
      ],
    }),
  );
  const fallbackIndex = await putManifest(o.base, o.repo, `sha256-${hex}`, fallback, 'application/vnd.oci.image.index.v1+json');
  return { sig, att, sbom, referrer, fallbackIndex, sbomBlob: layer.digest, payload };
}

/** A site whose spec pulls `refs` from `reg` over plain HTTP (`images` adds to the images section), built and verified. */
export async function buildEvidenceSite(
  reg: { host: string; url: string },
  refs: string[],
  images = '',
  files: Record<string, string> = {},
): Promise<{ dir: string; bundle: VerifiedBundle }> {
  const dir = await site();
  for (const [name, text] of Object.entries(files)) await writeFile(path.join(dir, name), text);
  const spec = (await readFile(path.join(dir, 'airgap.yaml'), 'utf8'))
    .replace('images: {k8sFeatures: false}', `images: {k8sFeatures: false, platforms: [linux/amd64], refs: [${refs.join(', ')}]${images}}`)
    .replace('  snapsDir: ./downloads', `  snapsDir: ./downloads\n  registries: {"${reg.host}": {endpoint: "${reg.url}", plainHttp: true}}`);
  await writeFile(path.join(dir, 'airgap.yaml'), spec);
  const b = await cli('bundler', ['build', 'airgap.yaml', '-o', 'bundle.tar', '--key', 'keys/site.key', '--no-applier', '--cache-dir', 'cache', '--json'], {
    cwd: dir,
  });
  expect(b.stderr).toBe('');
  expect(b.exitCode).toBe(0);
  return { dir, bundle: await verifyBundle(path.join(dir, 'bundle.tar'), { keys: [await loadPublicKey(path.join(dir, 'keys/site.pub'))] }) };
}
