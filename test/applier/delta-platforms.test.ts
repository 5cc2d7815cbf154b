import { execa } from 'execa';
import tar from 'tar-stream';
import { describe, expect, test } from 'vitest';
import { loadPublicKey, readEntry, verifyBundle, type Descriptor, type VerifiedBundle } from '@airgap/core';
import { ociTarStream } from '../../packages/applier/src/images/oci-tar.ts';
import { makeBundle, makeKeys, type BundleFixture, type FixtureImage } from '../support/bundle-fixture.ts';
import { containerdForTest } from '../support/containerd.ts';
import { testdir } from '../support/tmpdir.ts';
import { makeNode } from './node-env.ts';

const MULTI = 'registry.example/site/multi:1.0';
const ARM_NEW = 'registry.example/site/arm-new:1.0';

/**
 * Two linux/amd64 + linux/arm64 images. In the delta, `multi`'s amd64 layer changed (its arm64
 * config and layer are left out) and `arm-new`'s arm64 layer changed (its amd64 config and layer are left out).
 */
const twoPlatformImages = (delta: boolean): FixtureImage[] => [
  { ref: MULTI, files: { 'multi/data': `multi amd64 ${delta ? 'v2' : 'v1'}\n` }, morePlatforms: { 'linux/arm64': { 'multi/data': 'multi arm64 v1\n' } } },
  {
    ref: ARM_NEW,
    files: { 'arm-new/data': 'arm-new amd64 v1\n' },
    morePlatforms: { 'linux/arm64': { 'arm-new/data': `arm-new arm64 ${delta ? 'v2' : 'v1'}\n` } },
  },
];

async function twoPlatformPair(dir: string): Promise<{ base: BundleFixture; delta: BundleFixture; verified: VerifiedBundle }> {
  const common = { dir, keys: makeKeys(), name: 'site', platforms: ['linux/amd64', 'linux/arm64'] };
  const base = await makeBundle({ ...common, out: 'base.tar', images: twoPlatformImages(false), sequence: 1 });
  const b = await verifyBundle(base.file, { keys: [await loadPublicKey(base.pubFile)] });
  const delta = await makeBundle({
    ...common,
    out: 'delta.tar',
    images: twoPlatformImages(true),
    sequence: 2,
    createdAt: '2025-02-01T00:00:00.000Z',
    base: { manifest: b.manifest, digest: b.digest },
  });
  // Verified without --base: what the applier reads of it on a node.
  return { base, delta, verified: await verifyBundle(delta.file, { keys: [await loadPublicKey(delta.pubFile)] }) };
}

/** image ref → `os/arch` → its manifest and that manifest's config and layer digests, read from the bundle (indexes and manifests are never left out). */
async function platformBlobs(bundle: VerifiedBundle): Promise<Record<string, Record<string, { manifest: string; blobs: string[] }>>> {
  const doc = async <T>(digest: string) => JSON.parse((await readEntry(bundle, `images/blobs/sha256/${digest.slice(7)}`)).toString('utf8')) as T;
  const out: Record<string, Record<string, { manifest: string; blobs: string[] }>> = {};
  for (const image of bundle.manifest.images) {
    const index = await doc<{ manifests: Descriptor[] }>(image.digest);
    out[image.ref] = {};
    for (const m of index.manifests) {
      const manifest = await doc<{ config: Descriptor; layers: Descriptor[] }>(m.digest);
      out[image.ref]![`${m.platform!.os}/${m.platform!.architecture}`] = {
        manifest: m.digest,
        blobs: [manifest.config, ...manifest.layers].map((d) => d.digest),
      };
    }
  }
  return out;
}

const ctr = (address: string, ...args: string[]) => execa('ctr', ['--address', address, '--namespace', 'k8s.io', ...args]);
const contentDigests = async (address: string) =>
  new Set(
    String((await ctr(address, 'content', 'ls', '-q')).stdout)
      .split('\n')
      .filter(Boolean),
  );

/** Entry names of an OCI tar stream. */
async function tarNames(stream: NodeJS.ReadableStream): Promise<string[]> {
  const names: string[] = [];
  const extract = tar.extract();
  extract.on('entry', (header, body, next) => {
    names.push(header.name);
    body.on('end', next);
    body.resume();
  });
  const done = new Promise<void>((resolve, reject) => {
    extract.on('finish', resolve);
    extract.on('error', reject);
  });
  stream.pipe(extract);
  await done;
  return names;
}

describe('a delta of two-platform images, applied from the node (no --base), with a real containerd', () => {
  test("the base's import keeps only the node's platform; the delta, leaving out arm64 blobs the amd64 node never kept, applies; a missing amd64 blob is still refused", async () => {
    const containerd = await containerdForTest();
    const node = await makeNode();
    const { base, delta, verified } = await twoPlatformPair(node.work);
    const blobs = await platformBlobs(verified);
    const omitted = new Set(delta.manifest.base!.omitted.filter((e) => e.path.startsWith('images/')).map((e) => `sha256:${e.sha256}`));
    // What the delta leaves out: multi's arm64 config and layer, arm-new's amd64 config and layer.
    expect([...omitted].sort()).toEqual([...blobs[MULTI]!['linux/arm64']!.blobs, ...blobs[ARM_NEW]!['linux/amd64']!.blobs].sort());

    const run = (file: string, pub: string) => node.applier(['apply', file, '--pub', pub, '--ctr', 'ctr', '--containerd-address', containerd.address]);
    const first = await run(base.file, base.pubFile);
    expect(first.stderr).toBe('');
    expect(first.exitCode).toBe(0);
    // containerd (`ctr images import` without --all-platforms) kept the amd64 manifests and blobs of
    // the base and collected the arm64 ones the tar carried: the arm64 blobs the delta leaves out are gone.
    const afterBase = await contentDigests(containerd.address);
    const baseBlobs = await platformBlobs(await verifyBundle(base.file, { keys: [await loadPublicKey(base.pubFile)] }));
    for (const ref of [MULTI, ARM_NEW]) {
      const { manifest, blobs: amd64 } = baseBlobs[ref]!['linux/amd64']!;
      for (const d of [manifest, ...amd64]) expect(afterBase.has(d), `${ref} linux/amd64 ${d}`).toBe(true);
      const arm64 = baseBlobs[ref]!['linux/arm64']!;
      for (const d of [arm64.manifest, ...arm64.blobs]) expect(afterBase.has(d), `${ref} linux/arm64 ${d}`).toBe(false);
    }
    expect(blobs[MULTI]!['linux/arm64']!.blobs.filter((d) => afterBase.has(d))).toEqual([]);

    const plan = await node.applier(['plan', delta.file, '--pub', delta.pubFile, '--ctr', 'ctr', '--containerd-address', containerd.address, '--json']);
    expect(plan.exitCode).toBe(0);
    const steps = (JSON.parse(plan.stdout) as { steps: { id: string; status: string; changes: { action: string; target: string }[] }[] }).steps;
    expect(steps.find((s) => s.id === 'preflight')?.status).toBe('ok');
    expect(steps.find((s) => s.id === 'images')?.changes.map((c) => `${c.action} ${c.target}`)).toEqual([`import ${MULTI}`, `import ${ARM_NEW}`]);

    const second = await run(delta.file, delta.pubFile);
    expect(second.stderr).toBe('');
    expect(second.exitCode).toBe(0);
    expect(second.stdout).toContain(`imported ${MULTI}, ${ARM_NEW}`);
    const listed = String((await ctr(containerd.address, 'images', 'ls')).stdout).split('\n');
    for (const image of delta.manifest.images) expect(listed.find((l) => l.startsWith(`${image.ref} `)) ?? '', image.ref).toContain(image.digest);
    // The node's platform of each is whole (arm-new's amd64 blobs came from containerd's store) and usable.
    const check = String((await ctr(containerd.address, 'images', 'check')).stdout).split('\n');
    for (const ref of [MULTI, ARM_NEW]) expect(check.find((l) => l.startsWith(`${ref} `)) ?? '', ref).toMatch(/complete \((\d+)\/\1\)/);
    await ctr(containerd.address, 'containers', 'create', '--snapshotter', 'native', MULTI, 'multi-1');
    await ctr(containerd.address, 'containers', 'create', '--snapshotter', 'native', ARM_NEW, 'arm-new-1');
    const again = await run(delta.file, delta.pubFile);
    expect(again.exitCode).toBe(0);
    expect(again.stdout).toContain('converged: nothing changed');

    // An omitted blob of the node's own platform that containerd lost is still refused, and only that one is named.
    const lost = blobs[ARM_NEW]!['linux/amd64']!.blobs[1]!;
    await ctr(containerd.address, 'content', 'rm', lost);
    const refused = await run(delta.file, delta.pubFile);
    expect(refused.exitCode).toBe(2);
    expect(refused.stderr).toContain(
      `error[DELTA_BASE_MISSING]: preflight: the delta leaves out image blobs containerd no longer has: ${lost} (removed since site #1`,
    );
    for (const d of blobs[MULTI]!['linux/arm64']!.blobs) expect(refused.stderr).not.toContain(d);
  });

  test("the import stream of such a delta holds only the node's platform: not the other platform's changed layer", async () => {
    const { verified } = await twoPlatformPair(await testdir());
    const blobs = await platformBlobs(verified);
    const image = verified.manifest.images.find((i) => i.ref === ARM_NEW)!;
    const entry = (d: string) => `blobs/sha256/${d.slice(7)}`;
    const amd64 = await tarNames(await ociTarStream(verified, [image], { arch: 'amd64' }));
    expect(amd64.sort()).toEqual(['oci-layout', 'index.json', entry(image.digest), entry(blobs[ARM_NEW]!['linux/amd64']!.manifest)].sort());
    // An arm64 node gets its manifest and the changed config and layer; the left-out amd64 ones come from nowhere.
    const arm64 = await tarNames(await ociTarStream(verified, [image], { arch: 'arm64' }));
    const { manifest, blobs: changed } = blobs[ARM_NEW]!['linux/arm64']!;
    expect(arm64.sort()).toEqual(['oci-layout', 'index.json', entry(image.digest), entry(manifest), ...changed.map(entry)].sort());
    // Without an arch (the side-load tar, imported by whatever the snap's containerd does): every carried platform.
    const all = await tarNames(await ociTarStream(verified, [image]));
    expect(all).toEqual(expect.arrayContaining([...amd64, ...arm64]));
  });
});
