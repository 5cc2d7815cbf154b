import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { AirgapError, hashFile, type ExpectedDigest } from '@airgap/core';
import { parseAssertions } from './parse-assertions.ts';

export interface CheckedSnap {
  name: string;
  revision: number;
  sha3_384: string;
  size: number;
  snapPath: string;
  assertPath: string;
  /** From the verified-digest cache (digest-cache.ts): the SHA3-384 already known, or how to record it once the copy checks it. */
  cached?: Pick<ExpectedDigest, 'known' | 'onVerified'>;
}

/**
 * Check a snap file against its .assert, short of its content: the snap-declaration must be for
 * `name` and the file must have the size the snap-revision assertion gives. Returns what the
 * assertion says; `snapDigestExpectation` makes the bundle writer check the SHA3-384 as it copies
 * the file, so a build reads every snap once.
 */
export async function readSnapAssertion(name: string, snapPath: string, assertPath: string): Promise<CheckedSnap> {
  const shown = path.basename(snapPath);
  const text = await readFile(assertPath, 'utf8').catch((err: unknown) => {
    throw new AirgapError('SNAP_NOT_FOUND', `${name}: cannot read ${assertPath}`, {
      hint: 'download the snap with `snap download` so that its .assert sits beside it',
      cause: err,
    });
  });
  const assertions = parseAssertions(text);
  if (!assertions)
    throw new AirgapError('ASSERT_INVALID', `${name}: ${assertPath} is not a snap assertion file`, { hint: 'download the snap and its .assert again' });
  const revision = assertions.find((a) => a.type === 'snap-revision');
  const declaration = assertions.find((a) => a.type === 'snap-declaration');
  if (!revision || !declaration) {
    throw new AirgapError('ASSERT_INVALID', `${name}: ${assertPath} lacks a snap-revision or snap-declaration assertion`, {
      hint: 'download the snap and its .assert again',
    });
  }
  const declared = declaration.headers['snap-name'];
  if (declared !== name) {
    throw new AirgapError('ASSERT_INVALID', `${shown}: its snap-declaration is for snap "${declared ?? '?'}", not "${name}"`, {
      hint: `the .assert belongs to another snap; download ${name} again`,
    });
  }
  if (declaration.headers['snap-id'] !== revision.headers['snap-id']) {
    throw new AirgapError('ASSERT_INVALID', `${shown}: snap-declaration and snap-revision name different snap-ids`, {
      hint: 'download the snap and its .assert again',
    });
  }
  const size = (await stat(snapPath)).size;
  const wantSize = Number(revision.headers['snap-size']);
  if (size !== wantSize) {
    throw new AirgapError('SIZE_MISMATCH', `${shown} is ${size} bytes, its snap-revision assertion says ${wantSize}`, {
      hint: `the snap is truncated or not the one asserted; download ${name} again`,
    });
  }
  const sha3 = revision.headers['snap-sha3-384'] ?? '';
  if (!/^[A-Za-z0-9_-]{64}$/.test(sha3))
    throw new AirgapError('ASSERT_INVALID', `${shown}: snap-revision assertion has no valid snap-sha3-384`, {
      hint: 'download the snap and its .assert again',
    });
  const rev = Number(revision.headers['snap-revision']);
  if (!Number.isSafeInteger(rev) || rev < 1) throw new AirgapError('ASSERT_INVALID', `${shown}: snap-revision assertion has no valid revision`);
  return { name, revision: rev, sha3_384: sha3, size, snapPath, assertPath };
}

/** What the bundle writer checks as it copies the snap: the SHA3-384 its assertion gives. */
export function snapDigestExpectation(snap: Pick<CheckedSnap, 'name' | 'sha3_384' | 'cached'>): ExpectedDigest {
  return {
    ...snap.cached,
    algorithm: 'sha3-384',
    digest: snap.sha3_384,
    by: 'its snap-revision assertion',
    hint: `the snap is damaged or not the one asserted; download ${snap.name} again`,
  };
}

/**
 * Check a snap file against its .assert, content included: everything `readSnapAssertion` checks,
 * and the file's SHA3-384. For a download (checked before it enters the cache) and `bundler lock`.
 */
export async function checkSnap(name: string, snapPath: string, assertPath: string): Promise<CheckedSnap> {
  const asserted = await readSnapAssertion(name, snapPath, assertPath);
  const digest = await hashFile(snapPath, ['sha3-384']);
  const sha3 = digest.extra['sha3-384']!.toString('base64url');
  const expected = snapDigestExpectation(asserted);
  if (digest.size !== asserted.size)
    throw new AirgapError('SIZE_MISMATCH', `${path.basename(snapPath)} changed while it was being checked`, { hint: expected.hint });
  if (sha3 !== expected.digest) {
    throw new AirgapError('DIGEST_MISMATCH', `${path.basename(snapPath)} has SHA3-384 ${sha3}, ${expected.by} says ${expected.digest}`, {
      hint: expected.hint,
    });
  }
  return asserted;
}
