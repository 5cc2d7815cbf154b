import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadPublicKey, readEntry, verifyBundle } from '@airgap/core';
import { cli } from '../support/cli.ts';
import { buildEvidenceSite, cosignKey, publishEvidence, type MadeEvidence } from '../support/cosign-evidence.ts';
import { makeImage, type MadeImage } from '../support/oci-images.ts';
import { pushLayout, startRegistry, type TestRegistry } from '../support/registry.ts';
import { testdir } from '../support/tmpdir.ts';

describe('bundler build carries signatures, attestations and SBOMs published beside the images', () => {
  let reg: TestRegistry;
  let signed: MadeImage;
  let plain: MadeImage;
  let ev: MadeEvidence;
  beforeAll(async () => {
    reg = await startRegistry();
    const layout = await testdir();
    signed = await makeImage({ layoutDir: layout, tag: 'signed', platforms: ['linux/amd64'], layerSizes: [20_000] });
    plain = await makeImage({ layoutDir: layout, tag: 'plain', platforms: ['linux/amd64'], layerSizes: [10_000] });
    await pushLayout(reg, layout, 'signed', 'apps/signed:1');
    await pushLayout(reg, layout, 'plain', 'apps/plain:1');
    ev = await publishEvidence({ base: reg.url, repo: 'apps/signed', host: reg.host, digest: signed.digest, key: cosignKey() });
  }, 120_000);
  afterAll(async () => {
    await reg?.stop();
  });

  it('lists cosign tags, the referrer and its fallback tag, carries their manifests and blobs once, and locks their digests', async () => {
    const signedRef = `${reg.host}/apps/signed:1`;
    const plainRef = `${reg.host}/apps/plain:1`;
    const { dir, bundle } = await buildEvidenceSite(reg, [signedRef, plainRef]);
    const m = bundle.manifest;
    const hex = signed.digest.slice(7);
    const named = m.images.find((i) => i.ref === signedRef)!;
    expect(named.evidence).toEqual([
      {
        kind: 'cosign-sig',
        subject: signed.digest,
        tag: `sha256-${hex}.sig`,
        digest: ev.sig,
        size: expect.any(Number),
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
      },
      {
        kind: 'cosign-att',
        subject: signed.digest,
        tag: `sha256-${hex}.att`,
        digest: ev.att,
        size: expect.any(Number),
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
      },
      {
        kind: 'cosign-sbom',
        subject: signed.digest,
        tag: `sha256-${hex}.sbom`,
        digest: ev.sbom,
        size: expect.any(Number),
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
      },
      {
        kind: 'referrers-tag',
        subject: signed.digest,
        tag: `sha256-${hex}`,
        digest: ev.fallbackIndex,
        size: expect.any(Number),
        mediaType: 'application/vnd.oci.image.index.v1+json',
      },
      {
        kind: 'referrer',
        subject: signed.digest,
        digest: ev.referrer,
        size: expect.any(Number),
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        artifactType: 'application/spdx+json',
      },
    ]);
    const shown = await cli('bundler', ['inspect', 'bundle.tar'], { cwd: dir });
    expect(shown.stdout).toContain(
      `  ${signedRef}  ${signed.digest}\n    evidence: cosign-sig, cosign-att, cosign-sbom, referrers-tag, referrer (application/spdx+json)`,
    );
    // The repo@digest alias carries the same evidence; the unsigned image has none.
    expect(m.images.find((i) => i.ref === `${reg.host}/apps/signed@${signed.digest}`)!.evidence).toEqual(named.evidence);
    expect(m.images.find((i) => i.ref === plainRef)).toMatchObject({ digest: plain.digest });
    expect(m.images.find((i) => i.ref === plainRef)!.evidence).toBeUndefined();

    // Every evidence manifest and each blob they name is an entry of the layout; blobs they share are there once.
    const entries = new Map(m.entries.map((e) => [e.path, e]));
    const blobOf = (d: string) => `images/blobs/sha256/${d.slice(7)}`;
    for (const e of named.evidence!) expect(entries.get(blobOf(e.digest))?.sha256).toBe(e.digest.slice(7));
    const blobsNamed: string[] = [];
    for (const e of named.evidence!.filter((x) => x.mediaType.includes('manifest'))) {
      const doc = JSON.parse((await readEntry(bundle, blobOf(e.digest))).toString('utf8')) as { config: { digest: string }; layers: { digest: string }[] };
      for (const d of [doc.config, ...doc.layers]) {
        expect(entries.has(blobOf(d.digest)), `${e.kind} blob ${d.digest}`).toBe(true);
        blobsNamed.push(d.digest);
      }
    }
    // The SBOM document is a layer of both the .sbom manifest and the referrer: carried once.
    expect(blobsNamed.filter((d) => d === ev.sbomBlob)).toHaveLength(2);
    expect(m.entries.filter((e) => e.path === blobOf(ev.sbomBlob))).toHaveLength(1);
    expect(new Set(m.entries.map((e) => e.path)).size).toBe(m.entries.length);

    const lock = parse(await readFile(path.join(dir, 'airgap.lock.yaml'), 'utf8')) as {
      images: { ref: string; digest: string; evidence?: { kind: string; digest: string }[] }[];
    };
    expect(lock.images.find((i) => i.ref === signedRef)!.evidence).toEqual(
      named.evidence!.map((e) => ({ kind: e.kind, subject: e.subject, ...(e.tag ? { tag: e.tag } : {}), digest: e.digest })),
    );
    expect(lock.images.find((i) => i.ref === plainRef)!.evidence).toBeUndefined();

    // Signed again upstream (another .sig manifest): a frozen build still carries exactly the locked
    // evidence, by digest, and with a warm cache asks the registry nothing at all.
    const again = await publishEvidence({ base: reg.url, repo: 'apps/signed', host: reg.host, digest: signed.digest, key: cosignKey() });
    expect(again.sig).not.toBe(ev.sig);
    const lockText = await readFile(path.join(dir, 'airgap.lock.yaml'), 'utf8');
    const before = (await reg.requests()).length;
    const frozen = await cli(
      'bundler',
      ['build', 'airgap.yaml', '-o', 'again.tar', '--key', 'keys/site.key', '--no-applier', '--cache-dir', 'cache', '--frozen', '--json'],
      { cwd: dir },
    );
    expect(frozen.stderr).toBe('');
    expect(frozen.exitCode).toBe(0);
    expect((await reg.requests()).slice(before)).toEqual([]);
    expect(await readFile(path.join(dir, 'airgap.lock.yaml'), 'utf8')).toBe(lockText);
    const rebuilt = await verifyBundle(path.join(dir, 'again.tar'), { keys: [await loadPublicKey(path.join(dir, 'keys/site.pub'))] });
    expect(rebuilt.manifest.images.find((i) => i.ref === signedRef)!.evidence).toEqual(named.evidence);

    // Without --frozen the build takes the new signature and the lock records it.
    const fresh = await cli(
      'bundler',
      ['build', 'airgap.yaml', '-o', 'fresh.tar', '--key', 'keys/site.key', '--no-applier', '--cache-dir', 'cache', '--json'],
      {
        cwd: dir,
      },
    );
    expect(fresh.exitCode).toBe(0);
    const relocked = parse(await readFile(path.join(dir, 'airgap.lock.yaml'), 'utf8')) as typeof lock;
    expect(relocked.images.find((i) => i.ref === signedRef)!.evidence!.find((e) => e.kind === 'cosign-sig')!.digest).toBe(again.sig);
  }, 180_000);

  it('a multi-platform index: the signatures of the index and of the carried platform come, not those of a platform left behind', async () => {
    const layout = await testdir();
    const multi = await makeImage({ layoutDir: layout, tag: 'multi', platforms: ['linux/amd64', 'linux/arm64'], layerSizes: [5_000] });
    await pushLayout(reg, layout, 'multi', 'apps/multi:1');
    const signer = cosignKey();
    // `cosign sign --recursive`: the index and each platform manifest get their own .sig.
    const sigs = new Map<string, string>();
    for (const d of [multi.digest, multi.manifests['linux/amd64']!, multi.manifests['linux/arm64']!])
      sigs.set(d, (await publishEvidence({ base: reg.url, repo: 'apps/multi', host: reg.host, digest: d, key: signer })).sig);
    const { bundle } = await buildEvidenceSite(reg, [`${reg.host}/apps/multi:1`]);
    const evidence = bundle.manifest.images.find((i) => i.ref === `${reg.host}/apps/multi:1`)!.evidence!;
    const sigSubjects = evidence.filter((e) => e.kind === 'cosign-sig').map((e) => [e.subject, e.digest]);
    expect(sigSubjects.sort()).toEqual(
      [
        [multi.digest, sigs.get(multi.digest)],
        [multi.manifests['linux/amd64']!, sigs.get(multi.manifests['linux/amd64']!)],
      ].sort(),
    );
    expect(evidence.some((e) => e.subject === multi.manifests['linux/arm64'])).toBe(false);
  }, 180_000);

  it('images.evidence: false leaves every piece of evidence behind', async () => {
    const signedRef = `${reg.host}/apps/signed:1`;
    const { dir, bundle } = await buildEvidenceSite(reg, [signedRef], ', evidence: false');
    const m = bundle.manifest;
    expect(m.spec.images?.evidence).toBe(false);
    for (const i of m.images) expect(i.evidence).toBeUndefined();
    const paths = new Set(m.entries.map((e) => e.path));
    for (const d of [ev.sig, ev.att, ev.sbom, ev.referrer, ev.fallbackIndex, ev.sbomBlob]) expect(paths.has(`images/blobs/sha256/${d.slice(7)}`)).toBe(false);
    const lock = parse(await readFile(path.join(dir, 'airgap.lock.yaml'), 'utf8')) as { images: { evidence?: string[] }[] };
    expect(lock.images[0]!.evidence).toBeUndefined();
  }, 180_000);
});
