#!/usr/bin/env node
import { AirgapError, COMMIT, describeVerified, parseCommandArgs, runMain, verifyCommand, VERSION } from '@airgap/core';
import { keygen } from './commands/keygen.ts';

const USAGE = `bundler <command> [options]

commands:
  keygen --out DIR/NAME                 write an Ed25519 signing key pair (NAME.key, NAME.pub)
  verify bundle.tar --pub NAME.pub      check a bundle's signature and every digest

options:
  --version   print version and commit
  --verbose   stack traces on errors`;

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
    case 'keygen': {
      const { values } = parseCommandArgs(rest, { out: { type: 'string' }, force: { type: 'boolean' } }, 'bundler keygen --out DIR/NAME');
      if (!values.out) throw new AirgapError('USAGE', 'keygen needs --out DIR/NAME', { hint: USAGE });
      const r = await keygen({ out: values.out, force: values.force === true });
      process.stdout.write(`wrote ${r.privateKey} (keep it secret) and ${r.publicKey}\nfingerprint ${r.fingerprint}\n`);
      return 0;
    }
    case 'verify': {
      const { values, positionals } = parseCommandArgs(rest, { pub: { type: 'string', multiple: true } }, 'bundler verify bundle.tar --pub KEY.pub');
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
