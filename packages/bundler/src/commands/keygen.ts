import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { AirgapError, fingerprintOf, generateSigningKeyPair } from '@airgap/core';
import { createPublicKey } from 'node:crypto';

export interface KeygenOptions {
  /** DIR/NAME: writes NAME.key (0600) and NAME.pub. */
  out: string;
  force?: boolean;
}

export interface KeygenResult {
  privateKey: string;
  publicKey: string;
  fingerprint: string;
}

export async function keygen(options: KeygenOptions): Promise<KeygenResult> {
  const privateKey = `${options.out}.key`;
  const publicKey = `${options.out}.pub`;
  await mkdir(path.dirname(path.resolve(privateKey)), { recursive: true });
  const pair = generateSigningKeyPair();
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
  return { privateKey, publicKey, fingerprint: fingerprintOf(createPublicKey(pair.publicPem)) };
}
