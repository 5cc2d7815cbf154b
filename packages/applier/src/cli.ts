#!/usr/bin/env node
import { AirgapError, COMMIT, describeVerified, parseCommandArgs, runMain, verifyCommand, VERSION } from '@airgap/core';

const USAGE = `applier <command> bundle.tar [options]

commands:
  verify bundle.tar [--pub FILE]...   check signature and every digest; changes nothing

options:
  --pub FILE      trusted public key (repeatable); default: every *.pub in /etc/airgap/trusted.d
  --version       print version and commit
  --verbose       stack traces on errors`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === '--version') {
    process.stdout.write(`applier ${VERSION} (${COMMIT})\n`);
    return 0;
  }
  if (command === undefined || command === '--help' || command === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return command === undefined ? 2 : 0;
  }
  switch (command) {
    case 'verify': {
      const { values, positionals } = parseCommandArgs(rest, { pub: { type: 'string', multiple: true } }, 'applier verify bundle.tar --pub KEY.pub');
      const bundle = positionals[0];
      if (!bundle) throw new AirgapError('USAGE', 'verify needs the bundle path', { hint: USAGE });
      process.stdout.write(`${describeVerified(await verifyCommand({ bundle, pubs: values.pub ?? [] }))}\n`);
      return 0;
    }
    default:
      throw new AirgapError('USAGE', `unknown command ${JSON.stringify(command)}`, { hint: USAGE });
  }
}

await runMain(main);
