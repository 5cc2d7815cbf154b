import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { AirgapError } from '../errors.ts';

export interface PublicKey {
  key: KeyObject;
  /** `SHA256:<base64 of the SPKI DER digest>`, shown by inspect and verify. */
  fingerprint: string;
  source: string;
}

/** With a passphrase, the private key is encrypted PKCS#8 (PBES2: PBKDF2-SHA256 and AES-256-CBC, what OpenSSL 3 writes). */
export function generateSigningKeyPair(passphrase?: string): { privatePem: string; publicPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return {
    privatePem: privateKey.export({ type: 'pkcs8', format: 'pem', ...(passphrase === undefined ? {} : { cipher: 'aes-256-cbc', passphrase }) }).toString(),
    publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}

export function fingerprintOf(key: KeyObject): string {
  const der = key.export({ type: 'spki', format: 'der' });
  return `SHA256:${createHash('sha256').update(der).digest('base64').replace(/=+$/, '')}`;
}

export async function loadPublicKey(file: string): Promise<PublicKey> {
  const pem = await readKeyFile(file, 'public');
  let key: KeyObject;
  try {
    key = createPublicKey(pem);
  } catch (err) {
    throw new AirgapError('KEY_INVALID', `${file} is not a PEM public key`, { hint: 'use the .pub file written by `bundler keygen`', cause: err });
  }
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new AirgapError('KEY_INVALID', `${file} is a ${key.asymmetricKeyType ?? 'unknown'} key; airgap signs with Ed25519`, {
      hint: 'use the .pub file written by `bundler keygen`',
    });
  }
  return { key, fingerprint: fingerprintOf(key), source: file };
}

/** Asked only for an encrypted key: the passphrase, or undefined when there is none to be had. */
export type PassphraseSource = () => Promise<string | undefined>;

const ENCRYPTED_PEM = '-----BEGIN ENCRYPTED PRIVATE KEY-----';

/** The signing key; an encrypted PKCS#8 one (`bundler keygen --encrypt`) is opened with `passphrase`. */
export async function loadPrivateKey(file: string, passphrase?: PassphraseSource): Promise<KeyObject> {
  const pem = await readKeyFile(file, 'private');
  const encrypted = pem.includes(ENCRYPTED_PEM);
  const secret = encrypted ? await passphrase?.() : undefined;
  if (encrypted && secret === undefined) {
    throw new AirgapError('KEY_PASSPHRASE', `${file} is encrypted and no passphrase was given`, {
      hint: 'set AIRGAP_KEY_PASSPHRASE, or run the command on a terminal to be asked for it',
    });
  }
  try {
    const key = createPrivateKey(encrypted ? { key: pem, format: 'pem', passphrase: secret } : pem);
    if (key.asymmetricKeyType === 'ed25519') return key;
  } catch {
    // The message must not echo any of the file's content, nor the passphrase.
    if (encrypted) {
      throw new AirgapError('KEY_PASSPHRASE', `cannot decrypt ${file}: wrong passphrase (or a damaged key file)`, {
        hint: 'check AIRGAP_KEY_PASSPHRASE (or what you typed); nothing was written',
      });
    }
  }
  throw new AirgapError('KEY_INVALID', `${file} is not an Ed25519 private key in PEM`, { hint: 'make one with `bundler keygen --out DIR/NAME`' });
}

async function readKeyFile(file: string, kind: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (err) {
    throw new AirgapError('KEY_INVALID', `cannot read ${kind} key ${file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`, { cause: err });
  }
}

export function signManifest(manifestBytes: Uint8Array, key: KeyObject): Buffer {
  return sign(null, manifestBytes, key);
}

/** The first trusted key that signed these bytes, or undefined. */
export function findSigner(manifestBytes: Uint8Array, signature: Uint8Array, keys: readonly PublicKey[]): PublicKey | undefined {
  return keys.find((k) => signature.length === 64 && verify(null, manifestBytes, k.key, signature));
}
