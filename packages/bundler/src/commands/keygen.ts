import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { AirgapError, fingerprintOf, generateSigningKeyPair, type PassphraseSource } from '@airgap/core';
import { createPublicKey } from 'node:crypto';

export interface KeygenOptions {
  /** DIR/NAME: writes NAME.key (0600) and NAME.pub. */
  out: string;
  force?: boolean;
  /** Encrypt NAME.key (PKCS#8) with the passphrase this gives; undefined or empty is refused. */
  passphrase?: PassphraseSource;
}

export interface KeygenResult {
  privateKey: string;
  publicKey: string;
  fingerprint: string;
  encrypted: boolean;
}

export async function keygen(options: KeygenOptions): Promise<KeygenResult> {
  const privateKey = `${options.out}.key`;
  const publicKey = `${options.out}.pub`;
  await mkdir(path.dirname(path.resolve(privateKey)), { recursive: true });
  const secret = options.passphrase ? await options.passphrase() : undefined;
  if (options.passphrase && !secret) {
    throw new AirgapError('KEY_PASSPHRASE', `--encrypt needs a passphrase for ${privateKey}`, {
      hint: 'set AIRGAP_KEY_PASSPHRASE (not empty), or run keygen on a terminal to be asked for it',
    });
  }
  const pair = generateSigningKeyPair(secret);
  const flag = options.force ? 'w' : 'wx';
  try {
    await writeFile(privateKey, pair.privatePem, { mode: 0o600, flag });
    await writeFile(publicKey, pair.publicPem, { mode: 0o644, flag });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new AirgapError('OUTPUT_INVALID', `${privateKey} or ${publicKey} already exists; refusing to overwrite a signing key`, {
        hint: 'choose another --out, or pass --force',
        cause: err,
      });
    }
    throw err;
  }
  return { privateKey, publicKey, fingerprint: fingerprintOf(createPublicKey(pair.publicPem)), encrypted: secret !== undefined };
}
