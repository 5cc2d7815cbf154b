import { describe, expect, it } from 'vitest';
import { cli } from '../support/cli.ts';

/** What the applier commands that read the node take (status; plan and apply, which add the rest). */
const NODE = ['--pub', '--root', '--json', '--join-token', '--address', '--k8s', '--ctr', '--containerd-address'];
/** plan takes every option apply plans with; apply adds those of a run alone (below). */
const PLAN = [...NODE, '--allow-downgrade', '--no-prune', '--workloads', '--no-workloads'];

/** Every command of both CLIs and the options it takes (besides --help, --verbose, --version). */
const COMMANDS: Record<'bundler' | 'applier', Record<string, string[]>> = {
  bundler: {
    build: ['--out', '--key', '--frozen', '--no-applier', '--cache-dir', '--helm', '--json'],
    lock: ['--cache-dir', '--helm'],
    images: ['--cache-dir', '--helm', '--json'],
    allowlist: ['--format'],
    keygen: ['--out', '--force', '--encrypt'],
    verify: ['--pub'],
    sbom: ['--pub', '--out'],
    inspect: ['--json'],
  },
  applier: {
    verify: ['--pub', '--root'],
    plan: PLAN,
    apply: [...PLAN, '--dry-run', '--wait-timeout'],
    status: NODE,
    history: ['--root', '--json'],
    serve: ['--pub', '--listen', '--tls-cert', '--tls-key', '--max-connections', '--json', '--quiet'],
    push: ['--registry', '--prefix', '--plain-http', '--ca', '--user', '--password-stdin', '--pub', '--chunk-size', '--strict', '--json'],
    'verify-images': ['--registry', '--key', '--prefix', '--plain-http', '--ca', '--pub', '--json'],
  },
};

const HELP = Object.entries(COMMANDS).flatMap(([tool, commands]) =>
  Object.entries(commands).map(([command, options]) => [tool as 'bundler' | 'applier', command, options] as const),
);

describe('--help for every command', () => {
  it.each(HELP)('%s %s --help exits 0 and names its options', async (tool, command, options) => {
    const r = await cli(tool, [command, '--help']);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain(`Usage: ${tool} ${command} `);
    for (const option of options) expect(r.stdout).toContain(option);
    expect(r.stdout).toContain('--verbose');
  });

  it.each(['bundler', 'applier'] as const)('%s --help lists exactly the commands above, and `help <command>` is --help', async (tool) => {
    const r = await cli(tool, ['--help']);
    expect(r.exitCode).toBe(0);
    const listed = [...r.stdout.split('Commands:')[1]!.matchAll(/^ {2}([a-z-]+) /gm)].map((m) => m[1]).filter((c) => c !== 'help');
    expect(listed).toEqual(Object.keys(COMMANDS[tool]));
    const first = listed[0]!;
    expect((await cli(tool, ['help', first])).stdout).toBe((await cli(tool, [first, '--help'])).stdout);
  });

  it('bundler allowlist --help works', async () => {
    const r = await cli('bundler', ['allowlist', '--help']);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(/^Usage: bundler allowlist <airgap\.yaml> \[--format <format>\]/);
  });

  it('no command prints the usage and exits 2; --version exits 0', async () => {
    for (const tool of ['bundler', 'applier'] as const) {
      const none = await cli(tool, []);
      expect(none.exitCode).toBe(2);
      expect(none.stdout).toContain(`Usage: ${tool} [options] [command]`);
      const version = await cli(tool, ['--version']);
      expect(version.exitCode).toBe(0);
      expect(version.stdout).toMatch(new RegExp(`^${tool} \\d+\\.\\d+\\.\\d+ \\(\\S+\\)$`));
    }
  });
});

describe('options a command does not take', () => {
  const cases: [tool: 'bundler' | 'applier', args: string[], refused: string][] = [
    ['applier', ['verify', 'b.tar', '--join-token', 'x'], '--join-token'],
    ['applier', ['verify', 'b.tar', '--k8s', '/bin/k8s'], '--k8s'],
    ['applier', ['verify', 'b.tar', '--dry-run'], '--dry-run'],
    ['applier', ['plan', 'b.tar', '--dry-run'], '--dry-run'],
    ['applier', ['status', '--wait-timeout', '5'], '--wait-timeout'],
    ['applier', ['serve', 'b.tar', '--root', '/'], '--root'],
    ['applier', ['push', 'b.tar', '--registry', 'r:5000', '--listen', ':5000'], '--listen'],
    ['bundler', ['allowlist', 'airgap.yaml', '--json'], '--json'],
    ['bundler', ['lock', 'airgap.yaml', '--key', 'k.key'], '--key'],
    ['bundler', ['verify', 'b.tar', '--root', '/'], '--root'],
    ['bundler', ['keygen', '--out', 'k', '--pub', 'x.pub'], '--pub'],
  ];
  it.each(cases)('%s %j: exit 2 with the command’s usage', async (tool, args, refused) => {
    const r = await cli(tool, args);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain(`error[USAGE]: unknown option '${refused}'`);
    expect(r.stderr).toContain(`usage: ${tool} ${args[0]!} `);
    expect(r.stdout).toBe('');
  });

  it('a missing argument, an extra argument and an unknown command exit 2 with the usage', async () => {
    const missing = await cli('applier', ['plan']);
    expect(missing.exitCode).toBe(2);
    expect(missing.stderr).toContain("error[USAGE]: missing required argument 'bundle.tar'");
    expect(missing.stderr).toContain('usage: applier plan <bundle.tar>');
    const extra = await cli('bundler', ['inspect', 'a.tar', 'b.tar']);
    expect(extra.exitCode).toBe(2);
    expect(extra.stderr).toContain('usage: bundler inspect <bundle.tar>');
    const unknown = await cli('bundler', ['frobnicate']);
    expect(unknown.exitCode).toBe(2);
    expect(unknown.stderr).toContain("error[USAGE]: unknown command 'frobnicate'");
  });

  it('a bad AIRGAP_JOIN_TOKEN is an environment error, a bad --join-token a usage error (both exit 2)', async () => {
    const env = await cli('applier', ['plan', 'b.tar'], { env: { AIRGAP_JOIN_TOKEN: 'not a token' } });
    expect(env.exitCode).toBe(2);
    expect(env.stderr).toContain('error[ENV_INVALID]: AIRGAP_JOIN_TOKEN does not look like a k8s join token');
    const flag = await cli('applier', ['plan', 'b.tar', '--join-token', 'not a token']);
    expect(flag.exitCode).toBe(2);
    expect(flag.stderr).toContain('error[USAGE]: --join-token does not look like a k8s join token');
  });
});
