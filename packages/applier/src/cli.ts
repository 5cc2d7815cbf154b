#!/usr/bin/env node
// Start-up loads only commander and packages/core/src/cli/index.ts: every command's modules (and
// with them undici, ajv, yaml, tar-stream) are imported in its action, so `--version` and
// `--help` load none of them.
import { COMMIT, createProgram, runMain, runProgram, VERSION, type Command } from '../../core/src/cli/index.ts';
import type { NodeOptionValues } from './commands/options.ts';
import { DEFAULT_CTR, DEFAULT_K8S, DEFAULT_MAX_CONNECTIONS } from './defaults.ts';
import type { PushOptions } from './push/push-command.ts';
import type { ServeOptions } from './serve/serve-command.ts';
import type { VerifyImagesOptions } from './verify-images/verify-images-command.ts';

const out = (line: string) => void process.stdout.write(`${line}\n`);
const collect = (value: string, previous: string[] = []) => [...previous, value];

async function readPassword(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

const program = createProgram({
  name: 'applier',
  version: `applier ${VERSION} (${COMMIT})`,
  description: 'Converge an air-gapped node to a signed bundle, or serve and push its images.',
  epilog: 'exit codes: 0 converged (or nothing to do), 1 a step failed (re-run after fixing), 2 bad bundle or input, 70 a bug in the applier',
});

/** --pub and --root: what every command that verifies a bundle on the node takes. */
function trustOptions(cmd: Command): Command {
  return cmd
    .option('--pub <KEY.pub>', 'trusted public key (repeatable); default: every *.pub in /etc/airgap/trusted.d', collect)
    .option('--root <dir>', 'the file tree to act on instead of /')
    .option('--base <BASE.tar>', "a delta bundle's base (its file, first part or folder; signature checked): read for what the delta leaves out");
}

/** What plan, apply and status read the node with: the same options, so a plan shows what apply does. */
function nodeOptions(cmd: Command): Command {
  return trustOptions(cmd)
    .option('--json', 'machine-readable output')
    .option('--join-token <token>', 'join the cluster with this token instead of bootstrapping (or AIRGAP_JOIN_TOKEN, which keeps it out of the process list)')
    .option('--address <ip>', "the address k8s advertises for this node (default: cluster.address of the bundle's spec, else k8s picks the first interface's)")
    .option('--k8s <path>', `the k8s CLI (default ${DEFAULT_K8S}: sudo's PATH has no /snap/bin)`)
    .option('--ctr <path>', `ctr to import images with (default ${DEFAULT_CTR})`)
    .option(
      '--containerd-address <sock>',
      "containerd socket (default: run/containerd/containerd.sock under the node's containerd base, / for the classic snap)",
    );
}

/** The checked options of a node command; the join token may come from AIRGAP_JOIN_TOKEN. */
async function nodeOptionsOf(bundle: string | undefined, cmd: Command): Promise<ReturnType<typeof import('./commands/options.ts').commonOptions>> {
  const { commonOptions } = await import('./commands/options.ts');
  const values = cmd.opts<NodeOptionValues>();
  if (values.joinToken !== undefined || !process.env.AIRGAP_JOIN_TOKEN) return commonOptions(bundle, values);
  return commonOptions(bundle, { ...values, joinToken: process.env.AIRGAP_JOIN_TOKEN }, 'env');
}

trustOptions(
  program
    .command('verify')
    .description('check the signature and every digest; changes nothing')
    .argument('<bundle.tar>', 'the bundle: its file, its first part (NAME.000) or the folder of its parts'),
).action(async (bundle: string, _o: unknown, cmd: Command) => {
  // The module, not the '@airgap/core' barrel: a dynamic import of the barrel keeps every export of
  // it in the bundle (esbuild cannot drop what a namespace might reach), the spec's validator too.
  const [{ describeVerified }, { commonOptions, verifyFor }] = await Promise.all([
    import('../../core/src/commands/verify-command.ts'),
    import('./commands/options.ts'),
  ]);
  out(describeVerified(await verifyFor(commonOptions(bundle, cmd.opts<NodeOptionValues>()))));
});

/** What plan and apply take on top of the node options: a plan shows what apply with the same flags does. */
function changeOptions(cmd: Command): Command {
  return cmd
    .option('--allow-downgrade', 'apply a bundle older than the one last applied, an expired one, or one with a lower snap revision')
    .option('--no-prune', 'keep the images earlier bundles imported that this one lacks')
    .option('--workloads', "deploy the bundle's charts and manifests from this control plane (default: from the node that bootstraps)")
    .option('--no-workloads', 'leave the charts and manifests for a later run (the Ansible role deploys them once every node has joined)');
}

changeOptions(
  nodeOptions(
    program
      .command('plan')
      .description('verify, then show what apply would change (ok / change / skip and why)')
      .argument('<bundle.tar>', 'the bundle: its file, its first part (NAME.000) or the folder of its parts'),
  ),
).action(async (bundle: string, _o: unknown, cmd: Command) => {
  const o = await nodeOptionsOf(bundle, cmd);
  const [{ planCommand }, { formatPlan }] = await Promise.all([import('./commands/plan.ts'), import('./format-plan.ts')]);
  const plan = await planCommand(o);
  out(o.json ? JSON.stringify(plan, null, 2) : formatPlan(plan));
});

changeOptions(
  nodeOptions(
    program
      .command('apply')
      .description('verify, then converge this node; safe to re-run after any failure')
      .argument('<bundle.tar>', 'the bundle: its file, its first part (NAME.000) or the folder of its parts'),
  ),
)
  .option('--dry-run', 'only plan')
  .option('--wait-timeout <seconds>', 'how long to wait for the node to be Ready (default 600)')
  .action(async (bundle: string, _o: unknown, cmd: Command) => {
    const o = await nodeOptionsOf(bundle, cmd);
    const [{ applyCommand }, { formatStep }] = await Promise.all([import('./commands/apply.ts'), import('./format-plan.ts')]);
    const report = await applyCommand(o, o.json ? () => undefined : out);
    if (o.json) out(JSON.stringify(report, null, 2));
    else if (report.dryRun) out([...report.steps.map(formatStep), `dry run: ${report.changed} change(s) would be made`].join('\n'));
    else
      out(
        report.changed === 0
          ? `converged: nothing changed, the node already matched ${report.bundle.name} ${report.bundle.digest}`
          : `converged: ${report.changed} change(s) made for ${report.bundle.name} ${report.bundle.digest}`,
      );
  });

nodeOptions(
  program
    .command('status')
    .description('what the applier owns and last applied; with a bundle, whether the node is converged to it')
    .argument('[bundle.tar]', 'the bundle: its file, its first part (NAME.000) or the folder of its parts'),
).action(async (bundle: string | undefined, _o: unknown, cmd: Command) => {
  const o = await nodeOptionsOf(bundle, cmd);
  const { formatStatus, statusCommand } = await import('./commands/status.ts');
  const report = await statusCommand(o);
  out(o.json ? JSON.stringify(report, null, 2) : formatStatus(report));
});

program
  .command('history')
  .description('every apply that got past preflight on this node, oldest first (/var/lib/airgap/history.jsonl)')
  .option('--root <dir>', 'the file tree to act on instead of /')
  .option('--json', 'machine-readable output')
  .action(async (o: { root?: string; json?: boolean }) => {
    const { formatHistory, historyCommand } = await import('./commands/history.ts');
    const entries = await historyCommand(o);
    out(o.json ? JSON.stringify(entries, null, 2) : formatHistory(entries));
  });

program
  .command('serve')
  .description(
    "verify, then serve the bundle's images as a read-only OCI registry (HTTPS with --tls-*, else plain HTTP); one access-log line per request on stderr",
  )
  .argument('<bundle.tar>', 'the bundle: its file, its first part (NAME.000) or the folder of its parts')
  .option('--pub <KEY.pub>', 'trusted public key (repeatable); default: every *.pub in /etc/airgap/trusted.d', collect)
  .option('--listen <host:port>', 'where to listen (default 127.0.0.1:5000)')
  .option('--tls-cert <file>', 'PEM certificate (chain) to serve HTTPS with, together with --tls-key')
  .option('--tls-key <file>', 'its private key')
  .option('--max-connections <n>', `connections served at once (default ${DEFAULT_MAX_CONNECTIONS})`)
  .option('--json', 'access log as JSON lines')
  .option('--quiet', 'no access log')
  .action(async (bundle: string, o: Omit<ServeOptions, 'bundle'>) => {
    const { serveCommand } = await import('./serve/serve-command.ts');
    const r = await serveCommand({ ...o, bundle }, (line) => void process.stderr.write(`${line}\n`));
    out(`serving ${r.images} image(s) from ${bundle} at ${r.url} (read-only; Ctrl-C to stop)`);
    await new Promise<void>((resolve) => {
      const stop = () => r.server.close(() => resolve());
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
  });

program
  .command('push')
  .description(
    "verify, then push the bundle's images to a registry (same names, tags and digests; only what is missing; credentials from stdin or the auth files)",
  )
  .argument('<bundle.tar>', 'the bundle: its file, its first part (NAME.000) or the folder of its parts')
  .option('--registry <host[:port]>', 'the registry to push to, without a scheme')
  .option('--prefix <path/>', 'put every repository under this path')
  .option('--plain-http', 'talk HTTP, not HTTPS')
  .option('--ca <file>', "CA certificate (PEM) of the registry's certificate")
  .option('--user <user>', 'user name; the password comes from stdin (--password-stdin)')
  .option('--password-stdin', 'read the password from stdin')
  .option('--pub <KEY.pub>', 'trusted public key (repeatable); default: every *.pub in /etc/airgap/trusted.d', collect)
  .option('--chunk-size <size>', 'upload blobs in chunks of this size (K, M, G; default 64M)')
  .option('--strict', 'exit 1 when the registry cannot hold a repo@sha256:<index> name')
  .option(
    '--base <BASE.tar>',
    "a delta bundle's base (its file, first part or folder; signature checked): sends the blobs the delta leaves out that the registry lacks",
  )
  .option('--json', 'one JSON event per line')
  .action(async (bundle: string, o: Omit<PushOptions, 'bundle'>) => {
    const { pushCommand } = await import('./push/push-command.ts');
    await pushCommand(
      { ...o, bundle },
      { readPassword, write: out, ...(process.stdout.isTTY ? { terminal: (text: string) => void process.stdout.write(text) } : {}) },
    );
  });

program
  .command('verify-images')
  .description(
    "check the mirror's copy of each image's cosign signatures (the .sig tag, signature and Sigstore bundle referrers: what `applier push` put there) with the given keys or identity, under the bundle's images.verify rules; exit 1 when an enforce rule fails",
  )
  .argument('<bundle.tar>', 'the bundle the images were pushed from')
  .option('--registry <host[:port]>', 'the mirror, without a scheme')
  .option('--key <cosign.pub>', 'cosign public key (repeatable), for key rules', collect)
  .option('--trusted-root <trusted_root.json>', 'Sigstore trusted root, for identity (keyless) rules')
  .option('--identity-issuer <url>', "without images.verify rules in the bundle: the signer's OIDC issuer (with --trusted-root)")
  .option('--identity-subject <san>', "with --identity-issuer: the certificate's SAN, exactly")
  .option('--identity-subject-regexp <re>', 'with --identity-issuer: a regular expression the SAN must match as a whole')
  .option('--insecure-ignore-tlog', 'accept keyless signatures without a verified Rekor entry')
  .option('--insecure-ignore-sct', 'accept Fulcio certificates without SCTs')
  .option('--prefix <path/>', 'the --prefix the images were pushed under')
  .option('--plain-http', 'talk HTTP, not HTTPS')
  .option('--ca <file>', "CA certificate (PEM) of the registry's certificate")
  .option('--pub <KEY.pub>', 'trusted bundle key (repeatable); default: every *.pub in /etc/airgap/trusted.d', collect)
  .option('--json', 'the verdicts as JSON')
  .action(async (bundle: string, o: Omit<VerifyImagesOptions, 'bundle'>) => {
    const { verifyImagesCommand } = await import('./verify-images/verify-images-command.ts');
    await verifyImagesCommand({ ...o, bundle }, out);
  });

await runMain((argv) => runProgram(program, argv));
