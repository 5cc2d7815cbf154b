// `pnpm bench [--size 2G] [--runs 3] [--sizes 0.5G,2G,8G]`: synthetic inputs of a chosen size, our
// commands side by side with the floor a user would compare them to, medians of several runs.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir, totalmem } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { execa } from 'execa';
import { makeSnap } from '../test/support/snap-fixture.ts';
import { dropCaches, measure, measureShell, median, type Measurement } from './measure.ts';

const { values } = parseArgs({ options: { size: { type: 'string', default: '2G' }, runs: { type: 'string', default: '3' }, sizes: { type: 'string' }, keep: { type: 'boolean' } } });
const runs = Number(values.runs);
// Run from the repository root (pnpm bench does); this file is bundled into dist/scripts first.
const root = process.cwd();
const bundler = path.join(root, 'dist/bundler.mjs');
const applier = path.join(root, 'dist/applier.mjs');

function parseSize(s: string): number {
  const m = /^(\d+(?:\.\d+)?)([KMG]?)$/i.exec(s);
  if (!m) throw new Error(`bad size ${s}`);
  return Math.round(Number(m[1]) * { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 }[m[2]!.toUpperCase() as '' | 'K' | 'M' | 'G']);
}

interface Row {
  size: string;
  what: string;
  ours: Measurement;
  baseline: Measurement;
  baselineName: string;
}

async function inputs(dir: string, bytes: number): Promise<string> {
  const dl = path.join(dir, 'downloads');
  await mkdir(dl, { recursive: true });
  // Split like a real bundle: k8s is the bulk, then base and snapd; random bytes (incompressible).
  const parts: [string, number, Parameters<typeof makeSnap>[0]][] = [
    ['k8s', 0.7, { dir: dl, name: 'k8s', revision: 1, base: 'core22', confinement: 'classic' }],
    ['core22', 0.2, { dir: dl, name: 'core22', revision: 2, type: 'base' }],
    ['snapd', 0.1, { dir: dl, name: 'snapd', revision: 3, type: 'snapd' }],
  ];
  for (const [name, share, o] of parts) {
    const payload = path.join(dir, `${name}.bin`);
    await execa('bash', ['-c', `head -c ${Math.round(bytes * share)} /dev/urandom > ${payload}`]);
    await makeSnap({ ...o, payloadFile: payload, compression: 'none' });
    await rm(payload);
  }
  await writeFile(path.join(dir, 'airgap.yaml'), 'apiVersion: airgap/v1alpha1\nkind: Bundle\nmetadata: {name: bench}\nk8s: {channel: 1.34-classic/stable}\nsources: {snapsDir: ./downloads}\nimages: {k8sFeatures: false}\n');
  await execa('node', [bundler, 'keygen', '--out', path.join(dir, 'key')]);
  return dl;
}

async function best(label: string, fn: () => Promise<Measurement>): Promise<Measurement> {
  const ms: Measurement[] = [];
  for (let i = 0; i < runs; i++) {
    await dropCaches();
    ms.push(await fn());
  }
  const m = { seconds: median(ms.map((x) => x.seconds)), rssMiB: Math.max(...ms.map((x) => x.rssMiB)) };
  process.stderr.write(`  ${label}: ${m.seconds.toFixed(2)} s, peak RSS ${m.rssMiB.toFixed(0)} MiB\n`);
  return m;
}

async function benchSize(sizeLabel: string): Promise<Row[]> {
  const bytes = parseSize(sizeLabel);
  const dir = await mkdtemp(path.join(tmpdir(), 'airgap-bench-'));
  try {
    process.stderr.write(`inputs: ${sizeLabel} in ${dir}\n`);
    const dl = await inputs(dir, bytes);
    const out = path.join(dir, 'bundle.tar');
    const key = path.join(dir, 'key.key');
    const rows: Row[] = [];
    const build = await best('bundler build', () => measure('node', [bundler, 'build', path.join(dir, 'airgap.yaml'), '-o', out, '--key', key, '--cache-dir', path.join(dir, 'cache')]));
    const tarHash = await best('tar | sha256sum', () => measureShell(`tar -cf - -C ${dl} . | sha256sum >/dev/null`));
    rows.push({ size: sizeLabel, what: 'build from local sources', ours: build, baseline: tarHash, baselineName: 'tar -cf - <same files> \| sha256sum' });
    const verify = await best('applier verify', () => measure('node', [applier, 'verify', out, '--pub', path.join(dir, 'key.pub')]));
    const sha = await best('sha256sum', () => measure('sha256sum', [out]));
    rows.push({ size: sizeLabel, what: 'verify', ours: verify, baseline: sha, baselineName: 'sha256sum bundle.tar' });
    return rows;
  } finally {
    if (!values.keep) await rm(dir, { recursive: true, force: true });
  }
}

const sizes = (values.sizes ?? values.size).split(',');
const rows: Row[] = [];
for (const s of sizes) rows.push(...(await benchSize(s)));
const cold = await dropCaches();
console.log(`\nmachine: ${cpus().length} × ${cpus()[0]?.model ?? '?'}, ${(totalmem() / 1024 ** 3).toFixed(0)} GiB RAM, node ${process.version}; median of ${runs} runs, page cache ${cold ? 'dropped before each run' : 'NOT dropped (not root)'}\n`);
console.log('| size | what | ours (s) | baseline (s) | ratio | our peak RSS (MiB) | baseline |');
console.log('|---|---|---|---|---|---|---|');
for (const r of rows) {
  console.log(`| ${r.size} | ${r.what} | ${r.ours.seconds.toFixed(2)} | ${r.baseline.seconds.toFixed(2)} | ${(r.ours.seconds / r.baseline.seconds).toFixed(2)} | ${r.ours.rssMiB.toFixed(0)} | ${r.baselineName} |`);
}
