#!/usr/bin/env node
import { AirgapError, COMMIT, describeVerified, runMain, VERSION } from '@airgap/core';
import { applyCommand } from './commands/apply.ts';
import { parseOptions, verifyFor } from './commands/options.ts';
import { planCommand } from './commands/plan.ts';
import { formatStatus, statusCommand } from './commands/status.ts';
import { formatPlan, formatStep } from './format-plan.ts';
import { pushCommand } from './push/push-command.ts';
import { serveCommand } from './serve/serve-command.ts';

const USAGE = `applier <command> bundle.tar [options]

commands:
  verify bundle.tar   check signature and every digest; changes nothing
  plan bundle.tar     verify, then show what apply would change (ok / change / skip and why)
  apply bundle.tar    verify, then converge this node; safe to re-run after any failure
  status [bundle.tar] what the applier owns and last applied; with a bundle, whether converged
  serve bundle.tar --listen HOST:PORT [--tls-cert FILE --tls-key FILE] [--max-connections 256]
       [--json] [--quiet]
                      verify, then serve the bundle's images as a read-only OCI registry (HTTPS
                      with --tls-*, else plain HTTP); one access-log line per request on stderr
  push bundle.tar --registry HOST[:PORT] [--prefix PATH/] [--plain-http] [--ca FILE]
       [--user USER --password-stdin] [--chunk-size 64M] [--strict]
                      verify, then push the bundle's images to a registry (same names, tags and
                      digests; only what is missing; credentials from stdin or the auth files);
                      --strict: exit 1 when the registry cannot hold a repo@sha256:<index> name

options:
  --pub FILE                 trusted public key (repeatable); default: every *.pub in /etc/airgap/trusted.d
  --root DIR                 apply to the file tree under DIR instead of /
  --dry-run                  apply: only plan
  --json                     machine-readable output
  --join-token T             join the cluster with this token instead of bootstrapping
                             (or AIRGAP_JOIN_TOKEN=T, which keeps it out of the process list)
  --address IP               the address k8s advertises for this node (default: cluster.address
                             of the bundle's spec, else k8s picks the first interface's)
  --k8s PATH                 the k8s CLI (default /snap/bin/k8s: sudo's PATH has no /snap/bin)
  --ctr PATH                 ctr to import images with (default /snap/k8s/current/bin/ctr)
  --containerd-address SOCK  containerd socket (default: run/containerd/containerd.sock under the
                             node's containerd base, / for the classic snap)
  --wait-timeout SECONDS     how long to wait for the node to be Ready (default 600)
  --version                  print version and commit
  --verbose                  stack traces on errors

exit codes: 0 converged (or nothing to do), 1 a step failed (re-run after fixing), 2 bad bundle or input`;

const out = (line: string) => void process.stdout.write(`${line}\n`);

async function readPassword(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === '--version') {
    out(`applier ${VERSION} (${COMMIT})`);
    return 0;
  }
  if (command === undefined || command === '--help' || command === 'help') {
    out(USAGE);
    return command === undefined ? 2 : 0;
  }
  if (command === 'serve') {
    const r = await serveCommand(rest, (line) => void process.stderr.write(`${line}\n`));
    out(`serving ${r.images} image(s) from ${rest[0] ?? ''} at ${r.url} (read-only; Ctrl-C to stop)`);
    await new Promise<void>((resolve) => {
      const stop = () => r.server.close(() => resolve());
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
    return 0;
  }
  if (command === 'push') {
    await pushCommand(rest, { readPassword, write: out, ...(process.stdout.isTTY ? { terminal: (text: string) => void process.stdout.write(text) } : {}) });
    return 0;
  }
  const o = parseOptions(rest, `applier ${command} ...`);
  switch (command) {
    case 'verify': {
      out(describeVerified(await verifyFor(o, 'applier verify bundle.tar --pub KEY.pub')));
      return 0;
    }
    case 'plan': {
      const plan = await planCommand(o);
      out(o.json ? JSON.stringify(plan, null, 2) : formatPlan(plan));
      return 0;
    }
    case 'apply': {
      const report = await applyCommand(o, o.json ? () => undefined : out);
      if (o.json) out(JSON.stringify(report, null, 2));
      else if (report.dryRun) out([...report.steps.map(formatStep), `dry run: ${report.changed} change(s) would be made`].join('\n'));
      else out(report.changed === 0 ? `converged: nothing changed, the node already matched ${report.bundle.name} ${report.bundle.digest}` : `converged: ${report.changed} change(s) made for ${report.bundle.name} ${report.bundle.digest}`);
      return 0;
    }
    case 'status': {
      const report = await statusCommand(o);
      out(o.json ? JSON.stringify(report, null, 2) : formatStatus(report));
      return 0;
    }
    default:
      throw new AirgapError('USAGE', `unknown command ${JSON.stringify(command)}`, { hint: USAGE });
  }
}

await runMain(main);
