#!/usr/bin/env node
import { AirgapError, COMMIT, describeVerified, formatBytes, parseCommandArgs, runMain, verifyCommand, VERSION } from '@airgap/core';
import { build } from './commands/build.ts';
import { formatInspect, inspect } from './commands/inspect.ts';
import { keygen } from './commands/keygen.ts';
import { lock } from './commands/lock.ts';
import { allowlist, formatAllowlist } from './commands/allowlist.ts';
import { imagesStage } from './images-stage.ts';
import { createPullProgress } from './pull-progress.ts';

const USAGE = `bundler <command> [options]

commands:
  build airgap.yaml -o bundle.tar --key NAME.key [--frozen] [--no-applier]
                                        resolve snaps and images, update airgap.lock.yaml, write one signed bundle
                                        (with the standalone applier for each platform, unless --no-applier)
  lock airgap.yaml                      resolve and write airgap.lock.yaml without building
  allowlist airgap.yaml [--format squid|plain]
                                        what a forward proxy must let through (registries, token realms, blob hosts)
  keygen --out DIR/NAME                 write an Ed25519 signing key pair (NAME.key mode 0600, NAME.pub)
  verify bundle.tar --pub NAME.pub      check a bundle's signature and every digest
  inspect bundle.tar [--json]           what a bundle holds (no signature check)

options:
  --cache-dir DIR   download cache (default $AIRGAP_CACHE_DIR or ~/.cache/airgap)
  --version         print version and commit
  --verbose         stack traces on errors`;

function need<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new AirgapError('USAGE', `missing ${what}`, { hint: USAGE });
  return value;
}

function sourceDateEpoch(): number | undefined {
  const raw = process.env.SOURCE_DATE_EPOCH;
  if (raw === undefined || raw === '') return undefined;
  if (!/^\d+$/.test(raw)) throw new AirgapError('USAGE', `SOURCE_DATE_EPOCH=${raw} is not a whole number of seconds`);
  return Number(raw);
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === '--version') {
    process.stdout.write(`bundler ${VERSION} (${COMMIT})\n`);
    return 0;
  }
  if (command === undefined || command === '--help' || command === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return command === undefined ? 2 : 0;
  }
  switch (command) {
    case 'build': {
      const { values, positionals } = parseCommandArgs(
        rest,
        { out: { type: 'string', short: 'o' }, key: { type: 'string' }, frozen: { type: 'boolean' }, 'no-applier': { type: 'boolean' }, 'cache-dir': { type: 'string' }, json: { type: 'boolean' } },
        'bundler build airgap.yaml -o bundle.tar --key NAME.key [--frozen] [--no-applier] [--json]',
      );
      const progress = createPullProgress(values.json ? 'json' : process.stderr.isTTY ? 'tty' : 'plain', (t) => (values.json ? process.stdout : process.stderr).write(t));
      const r = await build({
        spec: need(positionals[0], 'the spec path (airgap.yaml)'),
        out: need(values.out, '-o bundle.tar'),
        key: need(values.key, '--key NAME.key'),
        frozen: values.frozen === true,
        applier: values['no-applier'] !== true,
        cacheDir: values['cache-dir'],
        sourceDateEpoch: sourceDateEpoch(),
        pullImages: imagesStage({ onEvent: progress.listener }),
      }).finally(() => progress.finish());
      if (values.json) {
        process.stdout.write(`${JSON.stringify({ type: 'result', bundle: r.bundle.path, size: r.bundle.size, signer: r.bundle.manifest.signer, images: r.bundle.manifest.images, lockFile: r.lockFile, lockChanged: r.lockChanged })}\n`);
        return 0;
      }
      const summary = formatInspect({ ...(await inspect(r.bundle.path)) });
      process.stdout.write(`wrote ${r.bundle.path} (${formatBytes(r.bundle.size)}, sha256 of manifest signed by ${r.bundle.manifest.signer})\n${summary}\n`);
      process.stdout.write(r.lockChanged ? `updated ${r.lockFile}: commit it\n` : `${r.lockFile} unchanged\n`);
      return 0;
    }
    case 'lock': {
      const { values, positionals } = parseCommandArgs(rest, { 'cache-dir': { type: 'string' } }, 'bundler lock airgap.yaml');
      const r = await lock({ spec: need(positionals[0], 'the spec path (airgap.yaml)'), cacheDir: values['cache-dir'] });
      process.stdout.write(`${r.changed ? 'wrote' : 'unchanged:'} ${r.lockFile} (${r.lock.snaps.length} snaps, ${r.lock.images.length} images)\n`);
      return 0;
    }
    case 'allowlist': {
      const { values, positionals } = parseCommandArgs(rest, { format: { type: 'string' } }, 'bundler allowlist airgap.yaml [--format squid|plain]');
      const specFile = need(positionals[0], 'the spec path (airgap.yaml)');
      const r = await allowlist(specFile);
      process.stdout.write(`${formatAllowlist(r, values.format ?? 'squid', specFile)}\n`);
      if (!r.fromLock) process.stderr.write('note: the lock records no pull yet, so token realms and blob storage hosts are missing: run `bundler build` once online, then again\n');
      return 0;
    }
    case 'keygen': {
      const { values } = parseCommandArgs(rest, { out: { type: 'string' }, force: { type: 'boolean' } }, 'bundler keygen --out DIR/NAME');
      const r = await keygen({ out: need(values.out, '--out DIR/NAME'), force: values.force === true });
      process.stdout.write(`wrote ${r.privateKey} (keep it secret) and ${r.publicKey}\nfingerprint ${r.fingerprint}\n`);
      return 0;
    }
    case 'verify': {
      const { values, positionals } = parseCommandArgs(rest, { pub: { type: 'string', multiple: true } }, 'bundler verify bundle.tar --pub KEY.pub');
      process.stdout.write(`${describeVerified(await verifyCommand({ bundle: need(positionals[0], 'the bundle path'), pubs: values.pub ?? [] }))}\n`);
      return 0;
    }
    case 'inspect': {
      const { values, positionals } = parseCommandArgs(rest, { json: { type: 'boolean' } }, 'bundler inspect bundle.tar [--json]');
      const r = await inspect(need(positionals[0], 'the bundle path'));
      process.stdout.write(values.json ? `${JSON.stringify(r, null, 2)}\n` : `${formatInspect(r)}\n`);
      return 0;
    }
    default:
      throw new AirgapError('USAGE', `unknown command ${JSON.stringify(command)}`, { hint: USAGE });
  }
}

await runMain(main);
