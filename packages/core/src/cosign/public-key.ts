import { createHash, createPublicKey, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { AirgapError } from '../errors.ts';
import type { CosignPublicKey } from './types.ts';

/** `sha256:<hex>` of the key's SPKI DER: the same bytes whatever PEM wrapping the file had. */
export function cosignFingerprint(key: KeyObject): string {
  return `sha256:${createHash('sha256')
    .update(key.export({ type: 'spki', format: 'der' }))
    .digest('hex')}`;
}

/** Read a cosign.pub (PEM SPKI, ECDSA P-256); KEY_INVALID otherwise. */
export async function loadCosignPublicKey(file: string): Promise<CosignPublicKey> {
  let pem: Buffer;
  try {
    pem = await readFile(file);
  } catch (err) {
    throw new AirgapError('KEY_INVALID', `cannot read cosign public key ${file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`, {
      hint: 'images.verify[].key is relative to the spec folder',
      cause: err,
    });
  }
  return cosignPublicKeyFrom(pem, file);
}

export function cosignPublicKeyFrom(pem: string | Buffer, source: string): CosignPublicKey {
  let key: KeyObject;
  try {
    key = createPublicKey(pem);
  } catch (err) {
    throw new AirgapError('KEY_INVALID', `${source} is not a PEM public key`, { hint: 'use the cosign.pub that `cosign generate-key-pair` wrote', cause: err });
  }
  // cosign's default key type; sigstore/cosign pkg/cosign/keys.go generates ECDSA P-256.
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    const what = key.asymmetricKeyType === 'ec' ? `an EC ${key.asymmetricKeyDetails?.namedCurve ?? ''} key` : `a ${key.asymmetricKeyType ?? 'unknown'} key`;
    throw new AirgapError('KEY_INVALID', `${source} is ${what}; images.verify takes ECDSA P-256 cosign keys`, {
      hint: 'use the cosign.pub that `cosign generate-key-pair` wrote',
    });
  }
  return { key, fingerprint: cosignFingerprint(key), source };
}
