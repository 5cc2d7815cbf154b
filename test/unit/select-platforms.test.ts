import { describe, expect, it } from 'vitest';
import { isAirgapError, type Descriptor } from '@airgap/core';
import { selectPlatforms } from '../../packages/bundler/src/oci/select-platforms.ts';
import { thrown } from './thrown.ts';

const M = 'application/vnd.oci.image.manifest.v1+json';
const d = (n: number, platform: Descriptor['platform'], annotations?: Record<string, string>): Descriptor => ({
  mediaType: M,
  digest: `sha256:${String(n).repeat(64).slice(0, 64)}`,
  size: 100 + n,
  ...(platform ? { platform } : {}),
  ...(annotations ? { annotations } : {}),
});

// A BuildKit index: two platforms, each with an attestation manifest (platform unknown/unknown).
const amd64 = d(1, { os: 'linux', architecture: 'amd64' });
const arm64 = d(2, { os: 'linux', architecture: 'arm64', variant: 'v8' });
const armv7 = d(3, { os: 'linux', architecture: 'arm', variant: 'v7' });
const att = (n: number, of: Descriptor) =>
  d(n, { os: 'unknown', architecture: 'unknown' }, { 'vnd.docker.reference.type': 'attestation-manifest', 'vnd.docker.reference.digest': of.digest });
const INDEX = [amd64, arm64, armv7, att(4, amd64), att(5, arm64)];

const GOOD: [string, readonly Descriptor[], string[], Descriptor[]][] = [
  ['one platform', INDEX, ['linux/amd64'], [amd64]],
  ['two, in the order asked for', INDEX, ['linux/arm64', 'linux/amd64'], [arm64, amd64]],
  ['a platform without a variant takes any variant', INDEX, ['linux/arm64'], [arm64]],
  ['a variant asked for must match', INDEX, ['linux/arm/v7'], [armv7]],
  ['all: every image entry, attestations left out', INDEX, ['all'], [amd64, arm64, armv7]],
  ['the same platform twice is one entry', INDEX, ['linux/amd64', 'linux/amd64'], [amd64]],
  ['the first match wins', [amd64, d(9, { os: 'linux', architecture: 'amd64' })], ['linux/amd64'], [amd64]],
  ['an attestation never matches a platform', [att(4, amd64), amd64], ['linux/amd64'], [amd64]],
];

const BAD: [string, readonly Descriptor[], string[], RegExp][] = [
  ['a platform the index lacks', INDEX, ['linux/s390x'], /has no linux\/s390x image \(it offers linux\/amd64, linux\/arm64\/v8, linux\/arm\/v7\)/],
  ['a variant the index lacks', INDEX, ['linux/arm64/v9'], /has no linux\/arm64\/v9 image/],
  ['an index of attestations only', [att(4, amd64)], ['linux/amd64'], /it offers none\)/],
  ['an entry without a platform', [d(6, undefined)], ['linux/amd64'], /it offers unknown\)/],
];

describe('selectPlatforms', () => {
  it.each(GOOD)('%s', (_name, manifests, wanted, want) => {
    expect(selectPlatforms('docker.io/x/y:1', manifests, wanted)).toEqual(want);
  });
  it.each(BAD)('refuses %s with PLATFORM_NOT_FOUND', (_name, manifests, wanted, message) => {
    const err = thrown(() => selectPlatforms('docker.io/x/y:1', manifests, wanted));
    expect(isAirgapError(err, 'PLATFORM_NOT_FOUND'), String(err)).toBe(true);
    expect((err as Error).message).toMatch(message);
  });
});
