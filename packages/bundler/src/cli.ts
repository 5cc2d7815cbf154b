#!/usr/bin/env node
// Start-up loads only commander and packages/core/src/cli/index.ts: every command's modules (and
// with them undici, ajv, yaml, tar-stream) are imported in its action, so `--version` and
// `--help` load none of them.
import { AirgapError, COMMIT, createProgram, formatBytes, Option, runMain, runProgram, VERSION } from '../../core/src/cli/index.ts';
import { setFlagsFromString } from 'node:v8';

// undici parses HTTP with llhttp, WebAssembly that V8 first compiles with its baseline compiler
// (Liftoff) and, after ~1.8 MB of use, again with TurboFan on a background thread: that second
// compile held ~25–30 MiB, a third of a build's peak RSS (126 → 97 MiB, measured on a 2 GiB
// rebuild), for parsing response headers. A tiering budget ~1000× V8's default keeps llhttp on
// Liftoff. Not `--liftoff-only`: that turns a function Liftoff cannot compile into a fatal error,
// where this still falls back to TurboFan. Set here, before any command loads undici.
setFlagsFromString('--wasm-tiering-budget=2000000000');

const out = (text: string) => void process.stdout.write(`${text}\n`);
const collect = (value: string, previous: string[] = []) => [...previous, value];
const cacheDir = () => new Option('--cache-dir <dir>', 'download cache (default $AIRGAP_CACHE_DIR, else ~/.cache/airgap)');
const helmOption = () =>
  new Option('--helm <PATH>', "the helm that renders workloads.charts to find their images (default: helm on PATH, else the k8s snap's bin/helm)");
const warn = (warnings: readonly string[]) => warnings.forEach((w) => process.stderr.write(`warning[WORKLOAD_IMAGE]: ${w}\n`));

function sourceDateEpoch(): number | undefined {
  const raw = process.env.SOURCE_DATE_EPOCH;
  if (raw === undefined || raw === '') return undefined;
  if (!/^\d+$/.test(raw))
    throw new AirgapError('ENV_INVALID', `SOURCE_DATE_EPOCH=${raw} is not a whole number of seconds`, {
      hint: 'set it to a Unix time, like $(git log -1 --format=%ct), or unset it',
    });
  return Number(raw);
}

const program = createProgram({
  name: 'bundler',
  version: `bundler ${VERSION} (${COMMIT})`,
  description: 'Build signed bundles for air-gapped Canonical Kubernetes nodes (the online side).',
});

program
  .command('build')
  .description(
    'resolve snaps and images, update airgap.lock.yaml, write one signed bundle (with the standalone applier for each platform, unless --no-applier)',
  )
  .argument('<airgap.yaml>', 'the spec')
  .requiredOption('-o, --out <bundle.tar>', 'where to write the bundle')
  .requiredOption('--key <NAME.key>', 'the signing key (from `bundler keygen`)')
  .option('--frozen', 'refuse to build unless airgap.lock.yaml covers the spec; never change it')
  .option('--no-applier', 'leave the standalone applier executables out')
  .option(
    '--split <size>',
    'write OUT.000, OUT.001, … of at most SIZE bytes each instead of OUT (`cat OUT.*` is the bundle; the applier reads the parts as they are). SIZE in bytes or K/M/G, powers of 1024: 4G is 4294967296 bytes, one more than FAT32 takes, so use 4000M for FAT32 sticks',
  )
  .option(
    '--base <OLD>',
    'build a delta: leave out the image blobs and snaps the earlier bundle OLD already carries (OLD: its file, first part, folder of parts, or its signed head from `inspect --head`; its signature is checked)',
  )
  .option('--pub <KEY.pub>', "key trusted to have signed --base's bundle, besides --key's own (repeatable; default /etc/airgap/trusted.d)", collect)
  .addOption(cacheDir())
  .addOption(helmOption())
  .option('--json', 'progress and the result as JSON lines on stdout')
  .action(
    async (
      spec: string,
      o: {
        out: string;
        key: string;
        frozen?: boolean;
        applier: boolean;
        split?: string;
        base?: string;
        pub?: string[];
        cacheDir?: string;
        helm?: string;
        json?: boolean;
      },
    ) => {
      const [{ build, parsePartSize }, { formatInspect, summarize }, { imagesStage }, { createPullProgress }, { keyPassphrase }] = await Promise.all([
        import('./commands/build.ts'),
        import('./commands/inspect.ts'),
        import('./images-stage.ts'),
        import('./pull-progress.ts'),
        import('./key-passphrase.ts'),
      ]);
      const progress = createPullProgress(o.json ? 'json' : process.stderr.isTTY ? 'tty' : 'plain', (t) => (o.json ? process.stdout : process.stderr).write(t));
      const r = await build({
        spec,
        out: o.out,
        key: o.key,
        frozen: o.frozen === true,
        applier: o.applier,
        cacheDir: o.cacheDir,
        sourceDateEpoch: sourceDateEpoch(),
        ...(o.split === undefined ? {} : { split: parsePartSize(o.split) }),
        ...(o.helm === undefined ? {} : { helm: o.helm }),
        ...(o.base === undefined ? {} : { base: o.base, pubs: o.pub ?? [] }),
        passphrase: keyPassphrase(),
        pullImages: imagesStage({ onEvent: progress.listener, onWarning: (m) => process.stderr.write(`warning[IMAGE_UNVERIFIED]: ${m}\n`) }),
      }).finally(() => progress.finish());
      warn(r.warnings);
      if (o.json) {
        out(
          JSON.stringify({
            type: 'result',
            bundle: r.bundle.path,
            ...(o.split === undefined ? {} : { parts: r.bundle.files }),
            size: r.bundle.size,
            signer: r.bundle.manifest.signer,
            images: r.bundle.manifest.images,
            lockFile: r.lockFile,
            lockChanged: r.lockChanged,
          }),
        );
        return;
      }
      // From the manifest just signed, not read back from the file: that parsed and schema-checked
      // it again (an ajv compile of the manifest schema: 0.3–0.9 s of CPU) for nothing new.
      const summary = formatInspect(summarize(r.bundle.path, r.bundle.manifest));
      const parts = r.bundle.files.length > 1 ? ` … ${r.bundle.files.at(-1)!} (${r.bundle.files.length} parts)` : '';
      out(`wrote ${r.bundle.path}${parts} (${formatBytes(r.bundle.size)}, sha256 of manifest signed by ${r.bundle.manifest.signer})\n${summary}`);
      out(r.lockChanged ? `updated ${r.lockFile}: commit it` : `${r.lockFile} unchanged`);
    },
  );

program
  .command('lock')
  .description('resolve and write airgap.lock.yaml without building')
  .argument('<airgap.yaml>', 'the spec')
  .addOption(cacheDir())
  .addOption(helmOption())
  .action(async (spec: string, o: { cacheDir?: string; helm?: string }) => {
    const { lock } = await import('./commands/lock.ts');
    const r = await lock({ spec, cacheDir: o.cacheDir, ...(o.helm === undefined ? {} : { helm: o.helm }) });
    out(`${r.changed ? 'wrote' : 'unchanged:'} ${r.lockFile} (${r.lock.snaps.length} snaps, ${r.lock.images.length} images)`);
  });

program
  .command('images')
  .description('every image the bundle would carry and where each comes from (images.refs, the k8s snap, a chart, a manifest), each resolved at its registry')
  .argument('<airgap.yaml>', 'the spec')
  .addOption(cacheDir())
  .addOption(helmOption())
  .option('--json', 'as JSON')
  .action(async (spec: string, o: { cacheDir?: string; helm?: string; json?: boolean }) => {
    const { formatImagesReport, imagesReport } = await import('./workloads/images-command.ts');
    const r = await imagesReport({ spec, cacheDir: o.cacheDir, ...(o.helm === undefined ? {} : { helm: o.helm }) });
    out(o.json ? JSON.stringify(r, null, 2) : formatImagesReport(r));
  });

program
  .command('allowlist')
  .description('what a forward proxy must let through (registries, token realms, blob hosts, the snap store)')
  .argument('<airgap.yaml>', 'the spec')
  .addOption(new Option('--format <format>', 'squid config lines, or one host a line').choices(['squid', 'plain']).default('squid'))
  .action(async (spec: string, o: { format: string }) => {
    const { allowlist, formatAllowlist } = await import('./commands/allowlist.ts');
    const r = await allowlist(spec);
    out(formatAllowlist(r, o.format, spec));
    if (!r.fromLock)
      process.stderr.write(
        'note: the lock records no pull yet, so token realms and blob storage hosts are missing: run `bundler build` once online, then again\n',
      );
  });

program
  .command('keygen')
  .description('write an Ed25519 signing key pair (NAME.key mode 0600, NAME.pub)')
  .requiredOption('--out <DIR/NAME>', 'where to write NAME.key and NAME.pub')
  .option('--force', 'overwrite an existing key pair')
  .option('--encrypt', 'encrypt NAME.key with a passphrase (AIRGAP_KEY_PASSPHRASE, else asked on the terminal); build then needs it too')
  .action(async (o: { out: string; force?: boolean; encrypt?: boolean }) => {
    const [{ keygen }, { keyPassphrase }] = await Promise.all([import('./commands/keygen.ts'), import('./key-passphrase.ts')]);
    const r = await keygen({ out: o.out, force: o.force === true, ...(o.encrypt ? { passphrase: keyPassphrase({ confirm: true }) } : {}) });
    out(
      `wrote ${r.privateKey} (${r.encrypted ? 'encrypted: keep the passphrase apart from it' : 'keep it secret'}) and ${r.publicKey}\nfingerprint ${r.fingerprint}`,
    );
  });

program
  .command('verify')
  .description("check a bundle's signature and every digest")
  .argument('<bundle.tar>', 'the bundle: its file, its first part (NAME.000) or the folder of its parts')
  .option('--pub <KEY.pub>', 'trusted public key (repeatable)', collect)
  .action(async (bundle: string, o: { pub?: string[] }) => {
    const { describeVerified, verifyCommand } = await import('../../core/src/commands/verify-command.ts'); // not the barrel: see the applier's cli.ts
    out(describeVerified(await verifyCommand({ bundle, pubs: o.pub ?? [] })));
  });

program
  .command('sbom')
  .description("the bundle's CycloneDX 1.6 JSON SBOM (its signed airgap/sbom.cdx.json), after checking its signature and every digest")
  .argument('<bundle.tar>', 'the bundle: its file, its first part (NAME.000) or the folder of its parts')
  .option('--pub <KEY.pub>', 'trusted public key (repeatable; default every *.pub in /etc/airgap/trusted.d)', collect)
  .option('-o, --out <FILE>', 'write it to FILE instead of stdout, e.g. bundle.cdx.json')
  .action(async (bundle: string, o: { pub?: string[]; out?: string }) => {
    const { sbom } = await import('./commands/sbom.ts');
    const r = await sbom({ bundle, pubs: o.pub ?? [], ...(o.out === undefined ? {} : { out: o.out }) });
    if (!r.fromEntry) process.stderr.write(`note: ${bundle} carries no SBOM (built before bundles did): made from its verified manifest and entries\n`);
    if (r.out === undefined) process.stdout.write(r.sbom);
    else process.stderr.write(`wrote ${r.out} (CycloneDX 1.6, ${r.sbom.length} bytes) of bundle ${r.bundle.manifest.name}\n`);
  });

program
  .command('inspect')
  .description('what a bundle holds (no signature check); with --head, write its signed head instead')
  .argument('<bundle.tar>', 'the bundle: its file, its first part (NAME.000) or the folder of its parts')
  .option('--json', 'as JSON')
  .option('--head', 'write the signed head (manifest and signature, a few KiB; verifiable on its own with `verify --pub`) to -o')
  .option('-o, --out <FILE>', 'where --head writes, e.g. old.head')
  .action(async (bundle: string, o: { json?: boolean; head?: boolean; out?: string }) => {
    if (o.head !== true && o.out !== undefined) throw new AirgapError('USAGE', '-o is only for --head', { hint: 'bundler inspect --head OLD.tar -o old.head' });
    const { formatHead, formatInspect, inspect } = await import('./commands/inspect.ts');
    if (o.head === true) {
      const { writeHead } = await import('../../core/src/bundle/bundle-head.ts');
      if (o.out === undefined) throw new AirgapError('USAGE', '--head needs -o FILE', { hint: 'bundler inspect --head OLD.tar -o old.head' });
      const h = await writeHead({ bundle, out: o.out });
      out(o.json ? JSON.stringify({ head: h.out, size: h.size, name: h.manifest.name, digest: `sha256:${h.digest}` }) : formatHead(h));
      return;
    }
    const r = await inspect(bundle);
    out(o.json ? JSON.stringify(r, null, 2) : formatInspect(r));
  });

await runMain((argv) => runProgram(program, argv));
