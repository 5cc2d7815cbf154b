import { createInterface } from 'node:readline';
import { AirgapError, type PassphraseSource } from '@airgap/core';

export const PASSPHRASE_ENV = 'AIRGAP_KEY_PASSPHRASE';

/**
 * Where the signing key's passphrase comes from: AIRGAP_KEY_PASSPHRASE (CI), else a prompt on the
 * terminal with echo off. Neither (a pipe, no variable): undefined, so the caller says what to do.
 */
export function keyPassphrase(o: { confirm?: boolean } = {}): PassphraseSource {
  return async () => {
    const fromEnv = process.env[PASSPHRASE_ENV];
    if (fromEnv !== undefined) return fromEnv;
    if (!process.stdin.isTTY || !process.stderr.isTTY) return undefined;
    const first = await promptHidden('passphrase for the signing key: ');
    if (o.confirm && (await promptHidden('again: ')) !== first) {
      throw new AirgapError('KEY_PASSPHRASE', 'the two passphrases differ', { hint: 'run the command again' });
    }
    return first;
  };
}

/** One line from the terminal, not echoed. */
async function promptHidden(question: string): Promise<string> {
  process.stderr.write(question);
  const rl = createInterface({ input: process.stdin, terminal: true });
  // readline echoes what it reads through its output; give it none, and end the line ourselves.
  const answer = await new Promise<string>((resolve) => rl.question('', resolve));
  rl.close();
  process.stderr.write('\n');
  return answer;
}
