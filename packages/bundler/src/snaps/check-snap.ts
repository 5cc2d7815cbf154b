import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { AirgapError, hashFile } from '@airgap/core';
import { parseAssertions } from './parse-assertions.ts';

export interface CheckedSnap {
  name: string;
  revision: number;
  sha3_384: string;
  size: number;
  sha256: string;
  snapPath: string;
  assertPath: string;
}

/**
 * Check a snap file against its .assert: the snap-revision assertion must give this file's
 * SHA3-384 and size, and the snap-declaration must be for `name`. One read of the file computes
 * both the SHA3-384 and the SHA-256 the bundle manifest needs.
 */
export async function checkSnap(name: string, snapPath: string, assertPath: string): Promise<CheckedSnap> {
  const shown = path.basename(snapPath);
  const text = await readFile(assertPath, 'utf8').catch((err: unknown) => {
    throw new AirgapError('SNAP_NOT_FOUND', `${name}: cannot read ${assertPath}`, { hint: 'download the snap with `snap download` so that its .assert sits beside it', cause: err });
  });
  const assertions = parseAssertions(text);
  if (!assertions) throw new AirgapError('ASSERT_INVALID', `${name}: ${assertPath} is not a snap assertion file`, { hint: 'download the snap and its .assert again' });
  const revision = assertions.find((a) => a.type === 'snap-revision');
  const declaration = assertions.find((a) => a.type === 'snap-declaration');
  if (!revision || !declaration) {
    throw new AirgapError('ASSERT_INVALID', `${name}: ${assertPath} lacks a snap-revision or snap-declaration assertion`, { hint: 'download the snap and its .assert again' });
  }
  const declared = declaration.headers['snap-name'];
  if (declared !== name) {
    throw new AirgapError('ASSERT_INVALID', `${shown}: its snap-declaration is for snap "${declared ?? '?'}", not "${name}"`, { hint: `the .assert belongs to another snap; download ${name} again` });
  }
  if (declaration.headers['snap-id'] !== revision.headers['snap-id']) {
    throw new AirgapError('ASSERT_INVALID', `${shown}: snap-declaration and snap-revision name different snap-ids`, { hint: 'download the snap and its .assert again' });
  }
  const digest = await hashFile(snapPath, ['sha3-384']);
  const sha3 = digest.extra['sha3-384']!.toString('base64url');
  const wantSize = Number(revision.headers['snap-size']);
  if (digest.size !== wantSize) {
    throw new AirgapError('SIZE_MISMATCH', `${shown} is ${digest.size} bytes, its snap-revision assertion says ${wantSize}`, { hint: `the snap is truncated or not the one asserted; download ${name} again` });
  }
  if (sha3 !== revision.headers['snap-sha3-384']) {
    throw new AirgapError('DIGEST_MISMATCH', `${shown} has SHA3-384 ${sha3}, its snap-revision assertion says ${revision.headers['snap-sha3-384'] ?? '?'}`, {
      hint: `the snap is damaged or not the one asserted; download ${name} again`,
    });
  }
  const rev = Number(revision.headers['snap-revision']);
  if (!Number.isSafeInteger(rev) || rev < 1) throw new AirgapError('ASSERT_INVALID', `${shown}: snap-revision assertion has no valid revision`);
  return { name, revision: rev, sha3_384: sha3, size: digest.size, sha256: digest.sha256, snapPath, assertPath };
}
