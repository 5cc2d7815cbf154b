// `pnpm bench [--size 2G | --sizes 0.5G,2G,8G] [--runs 3] [--only build,verify,pull,import,noop] [--keep]`:
// synthetic inputs of a chosen size, our commands side by side with the tool a user would compare
// them to, medians of several runs taken turn about, and each of ours' peak RSS.
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir, totalmem } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { execa } from 'execa';
import { startRegistry } from '../test/support/registry.ts';
import { makeSnap } from '../test/support/snap-fixture.ts';
import { ctrImportArgs, imagesTar, makeNode } from './bench-node.ts';
import { bundleScript } from './bundle-script.ts';
import { makeInputs, type BenchInputs } from './inputs.ts';
import { comparePair, dropCaches, measure, measureShell, type Pair } from './measure.ts';

const ROWS = ['pull', 'build', 'verify', 'split', 'noop', 'import'] as const;
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
  baselineName: string;
  /** Undefined: not measured, with `note` saying why. */
  pair?: Pair;
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

async function benchSize(sizeLabel: string, cli: Awaited<ReturnType<typeof tools>>): Promise<Row[]> {
  const bytes = parseSize(sizeLabel);
  const dir = await mkdtemp(path.join(tmpdir(), 'airgap-bench-'));
  const registry = await startRegistry({ storageDir: path.join(dir, 'registry') });
  const rows: Row[] = [];
  const row = async (id: RowId, what: string, baselineName: string, measureRow: () => Promise<Pair | string>) => {
    if (!only.has(id)) return;
    log(`  ${what} vs ${baselineName}`);
    const r = await measureRow();
    rows.push(typeof r === 'string' ? { size: sizeLabel, what, baselineName, note: r } : { size: sizeLabel, what, baselineName, pair: r });
  };
  try {
    log(`inputs: ${sizeLabel} in ${dir}`);
    const inputs = await makeInputs({ dir, bytes, registry, bundler: cli.bundler });
    const bundle = path.join(dir, 'bundle.tar');
    const cache = path.join(dir, 'cache');
    const buildArgs = (spec: string, out: string) => ['build', spec, '-o', out, '--key', inputs.key, '--cache-dir', cache, '--no-applier'];

    await row('pull', 'image pull (6 images, shared layers)', `skopeo copy --all, image by image`, async () => {
      if (!cli.pull) return 'not measured (no OCI client yet)';
      const ours = path.join(dir, 'pull-cache');
      const theirs = path.join(dir, 'skopeo');
      // The same images by the registry's own address (the spec's names go through sources.registries).
      const refs = inputs.images.tags.map((t) => `${registry.host}/bench/${t}:v1`);
      const skopeo = refs.map((r, i) => `skopeo copy --all --quiet --src-tls-verify=false docker://${r} oci:${theirs}:app${i}`).join(' && ');
      const pair = await comparePair(
        runs,
        { prepare: () => rm(ours, { recursive: true, force: true }), run: () => node(cli.pull!, [ours, 'linux/amd64', registry.url, ...refs]) },
        { prepare: () => rm(theirs, { recursive: true, force: true }), run: () => measureShell(skopeo) },
        log,
      );
      await rm(ours, { recursive: true, force: true });
      await rm(theirs, { recursive: true, force: true });
      return pair;
    });

    // One build pulls the images into the cache: from then on every source is a local file.
    await execa(process.execPath, [cli.bundler, ...buildArgs(inputs.spec, bundle)]);
    await row('build', 'build from local sources', 'tar -cf - <same files> | sha256sum', () =>
      comparePair(
        runs,
        { run: () => node(cli.bundler, buildArgs(inputs.spec, bundle)) },
        { run: () => measureShell(`tar -cf - -C ${dir} downloads cache/blobs | sha256sum >/dev/null`) },
        log,
      ),
    );
    await row('verify', 'verify', 'sha256sum bundle.tar', () =>
      comparePair(runs, { run: () => node(cli.applier, ['verify', bundle, '--pub', inputs.pub]) }, { run: () => measure('sha256sum', [bundle]) }, log),
    );
    await row('split', 'build --split (4 parts), then verify from the parts', 'build, split -b, verify bundle.tar', async () => {
      const parts = path.join(dir, 'parts');
      const part = `${Math.ceil(bytes / 4 / 1024 / 1024) + 1}M`;
      const clear = async () => {
        await rm(parts, { recursive: true, force: true });
        await mkdir(parts);
      };
      return comparePair(
        runs,
        {
          prepare: clear,
          run: () =>
            measureShell(
              `${process.execPath} ${cli.bundler} ${buildArgs(inputs.spec, path.join(parts, 'bundle.tar')).join(' ')} --split ${part} >/dev/null && ${process.execPath} ${cli.applier} verify ${parts} --pub ${inputs.pub} >/dev/null`,
            ),
        },
        {
          prepare: clear,
          run: () =>
            measureShell(
              `${process.execPath} ${cli.bundler} ${buildArgs(inputs.spec, bundle).join(' ')} >/dev/null && split -b ${part} -d -a 3 ${bundle} ${parts}/bundle.tar. && ${process.execPath} ${cli.applier} verify ${bundle} --pub ${inputs.pub} >/dev/null`,
            ),
        },
        log,
      );
    });
    await row('noop', 'apply on a converged node (no-op)', 'sha256sum bundle.tar', async () => {
      const n = await makeNode(path.join(dir, 'node-noop'));
      try {
        await execa(process.execPath, [cli.applier, ...n.applyArgs(bundle, inputs.pub)], { env: n.env });
        return await comparePair(
          runs,
          { run: () => node(cli.applier, n.applyArgs(bundle, inputs.pub), n.env) },
          { run: () => measure('sha256sum', [bundle]) },
          log,
        );
      } finally {
        await n.remove();
      }
    });
    await row('import', 'apply importing every image (verify + import)', 'ctr images import <same images as OCI tar>', async () => {
      // A bundle of the same images with tiny snaps: the snaps' bytes are the build's business.
      const imagesOnly = await imagesOnlyBundle(inputs, cli.bundler, cache);
      await rm(bundle, { force: true });
      const tar = await imagesTar(imagesOnly, dir);
      const n = await makeNode(path.join(dir, 'node-import'));
      try {
        // Converge everything but the images: apply once, then every run starts from an empty containerd.
        await execa(process.execPath, [cli.applier, ...n.applyArgs(imagesOnly, inputs.pub)], { env: n.env });
        return await comparePair(
          runs,
          { prepare: () => n.freshContainerd(), run: () => node(cli.applier, n.applyArgs(imagesOnly, inputs.pub), n.env) },
          { prepare: () => n.freshContainerd(), run: () => measure('ctr', ctrImportArgs(n, tar)) },
          log,
        );
      } finally {
        await n.remove();
      }
    });
    return rows;
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

async function machine(): Promise<string> {
  const sh = async (cmd: string) => String((await execa('bash', ['-c', cmd], { reject: false })).stdout).trim();
  return [
    `${cpus().length} × ${cpus()[0]?.model ?? '?'} (nproc ${await sh('nproc')}), ${(totalmem() / 1024 ** 3).toFixed(0)} GiB RAM, kernel ${await sh('uname -r')}, node ${process.version}`,
    `disk: ${await sh(`df -h --output=source,fstype,size,avail ${tmpdir()} | tail -1`)}; load average at the end: ${await sh('cut -d" " -f1-3 /proc/loadavg')}`,
    `tools: ${await sh('sha256sum --version | head -1')}; ${await sh('skopeo --version')}; ${await sh('ctr --version')}`,
  ].join('\n');
}

const work = await mkdtemp(path.join(tmpdir(), 'airgap-bench-tools-'));
try {
  const cli = await tools(work);
  const rows: Row[] = [];
  for (const s of (values.sizes ?? values.size).split(',')) rows.push(...(await benchSize(s, cli)));
  const cold = await dropCaches();
  console.log(`\n${await machine()}`);
  console.log(`median of ${runs} runs each, ours and baseline taken turn about; page cache ${cold ? 'dropped before every run' : 'NOT dropped (not root)'}\n`);
  console.log('| size | what | ours (s) | baseline (s) | ratio | our peak RSS (MiB) | baseline |');
  console.log('|---|---|---|---|---|---|---|');
  for (const r of rows) {
    if (!r.pair) {
      console.log(`| ${r.size} | ${r.what} | – | – | – | – | ${r.baselineName}: ${r.note ?? ''} |`);
      continue;
    }
    const { ours, baseline } = r.pair;
    console.log(
      `| ${r.size} | ${r.what} | ${ours.seconds.toFixed(2)} | ${baseline.seconds.toFixed(2)} | ${(ours.seconds / baseline.seconds).toFixed(2)} | ${ours.rssMiB.toFixed(0)} | ${r.baselineName.replaceAll('|', '\\|')} |`,
    );
  }
} finally {
  await rm(work, { recursive: true, force: true });
}
