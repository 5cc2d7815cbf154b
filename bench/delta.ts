// The delta row of `pnpm bench --only delta` (docs/bundle-format.md, "Delta bundles"): sizes, not
// times. Six images with one changed, built by core's writeBundle with planDelta (what `bundler
// build --base` runs); a k8s snap revision bump built by the real bundler CLI with --base OLD.head.
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { formatBytes, writeHead } from '@airgap/core';
import { deltaPair } from '../test/bundle/delta-fixture.ts';
import { makeSnap } from '../test/support/snap-fixture.ts';

const MiB = 1024 * 1024;
const size = async (file: string) => (await stat(file)).size;

/** Markdown lines: what each delta weighs beside what it must carry. */
export async function deltaReport(o: { bundler: string; log: (line: string) => void; keep?: boolean }): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'airgap-bench-delta-'));
  try {
    const lines = [
      '| delta | delta bundle | what it must carry | delta ÷ that | full bundle |',
      '|---|---|---|---|---|',
      await sixImages(dir, o.log),
      await snapBump(dir, o.bundler, o.log),
    ];
    return lines.join('\n');
  } finally {
    if (!o.keep) await rm(dir, { recursive: true, force: true });
  }
}

/** 6 images of one 32 MiB layer each; the delta has image 5 with a new layer (and so a new config and manifest). */
async function sixImages(dir: string, log: (line: string) => void): Promise<string> {
  log('  delta: 6 images, 1 changed');
  const work = path.join(dir, 'images');
  const { base, delta } = await deltaPair(work, { layerBytes: 32 * MiB });
  const baseBlobs = new Set(base.manifest.entries.map((e) => e.path));
  const newBlobs = delta.manifest.entries.filter((e) => e.path.startsWith('images/blobs/') && !baseBlobs.has(e.path)).reduce((n, e) => n + e.size, 0);
  const head = await writeHead({ bundle: delta.file, out: path.join(work, 'delta.head') });
  const d = await size(delta.file);
  const must = newBlobs + head.size;
  return `| 6 images (32 MiB layer each), 1 changed; 3 snaps unchanged | ${formatBytes(d)} (${d} B) | the changed image's new blobs ${formatBytes(newBlobs)} + the signed head ${formatBytes(head.size)} = ${must} B | **${(d / must).toFixed(4)}** (target ≤ 1.05) | ${formatBytes(await size(base.file))} |`;
}

/** k8s 64 MiB, core22 16 MiB, snapd 8 MiB; the delta moves k8s from revision 30 to 31. */
async function snapBump(dir: string, bundler: string, log: (line: string) => void): Promise<string> {
  log('  delta: k8s snap revision bump');
  const work = path.join(dir, 'snaps');
  const downloads = path.join(work, 'downloads');
  await mkdir(downloads, { recursive: true });
  await makeSnap({ dir: downloads, name: 'snapd', revision: 10, type: 'snapd', payloadBytes: 8 * MiB });
  await makeSnap({ dir: downloads, name: 'core22', revision: 20, type: 'base', payloadBytes: 16 * MiB });
  await makeSnap({ dir: downloads, name: 'k8s', revision: 30, base: 'core22', confinement: 'classic', payloadBytes: 64 * MiB });
  const spec = (revision: number) =>
    [
      'apiVersion: airgap/v1alpha1',
      'kind: Bundle',
      'metadata: {name: bench-delta}',
      'k8s:',
      '  channel: 1.34-classic/stable',
      `  revision: ${revision}`,
      'sources:',
      '  snapsDir: ./downloads',
      'images: {k8sFeatures: false}',
      '',
    ].join('\n');
  const run = (args: string[]) => execa(process.execPath, [bundler, ...args], { cwd: work, env: { SOURCE_DATE_EPOCH: '1700000000' } });
  await run(['keygen', '--out', 'keys/site']);
  await writeFile(path.join(work, 'airgap.yaml'), spec(30));
  await run(['build', 'airgap.yaml', '--key', 'keys/site.key', '--no-applier', '-o', 'base.tar']);
  await run(['inspect', '--head', 'base.tar', '-o', 'base.head']);
  await makeSnap({ dir: downloads, name: 'k8s', revision: 31, base: 'core22', confinement: 'classic', payloadBytes: 64 * MiB });
  await writeFile(path.join(work, 'airgap.yaml'), spec(31));
  await run(['build', 'airgap.yaml', '--key', 'keys/site.key', '--no-applier', '-o', 'delta.tar', '--base', 'base.head']);
  await run(['build', 'airgap.yaml', '--key', 'keys/site.key', '--no-applier', '-o', 'full.tar']);
  const inspect = JSON.parse(String((await run(['inspect', 'delta.tar', '--json'])).stdout)) as { delta?: { omitted: number; omittedBytes: number } };
  const snap = await size(path.join(downloads, 'k8s_31.snap'));
  const d = await size(path.join(work, 'delta.tar'));
  const spec31 = await readFile(path.join(work, 'airgap.yaml'), 'utf8');
  if (!spec31.includes('revision: 31') || !inspect.delta) throw new Error('the snap bump delta was not built as one');
  return `| k8s snap revision bump (k8s 64 MiB, core22 16 MiB, snapd 8 MiB), --base OLD.head | ${formatBytes(d)} (${d} B; leaves out ${inspect.delta.omitted} entries, ${formatBytes(inspect.delta.omittedBytes)}) | one snap, k8s_31.snap: ${formatBytes(snap)} (${snap} B) | **${(d / snap).toFixed(4)}** | ${formatBytes(await size(path.join(work, 'full.tar')))} |`;
}
