import { describe, expect, it } from 'vitest';
import { isAirgapError, loadPublicKey, verifyBundle } from '@airgap/core';
import { planPush } from '../../packages/applier/src/push/push-plan.ts';
import { checkCollisions, pushTarget } from '../../packages/applier/src/push/push-target.ts';
import { makeBundle } from '../support/bundle-fixture.ts';
import { testdir } from '../support/tmpdir.ts';
import { thrown } from './thrown.ts';

const D1 = `sha256:${'1'.repeat(64)}`;
const D2 = `sha256:${'2'.repeat(64)}`;

// The mirror has one namespace for every upstream registry: refs of two registries may land on one tag.
const CASES: [string, [string, string][], string, RegExp | undefined][] = [
  [
    'two registries, one tag, other digests',
    [
      ['docker.io/x/y:1', D1],
      ['quay.io/x/y:1', D2],
    ],
    '',
    /docker\.io\/x\/y:1 and quay\.io\/x\/y:1 would both be pushed as x\/y:1/,
  ],
  [
    'the same image from two registries is fine',
    [
      ['docker.io/x/y:1', D1],
      ['quay.io/x/y:1', D1],
    ],
    '',
    undefined,
  ],
  [
    'other tags are fine',
    [
      ['docker.io/x/y:1', D1],
      ['quay.io/x/y:2', D2],
    ],
    '',
    undefined,
  ],
  [
    'digest-only refs never collide',
    [
      [`docker.io/x/y@${D1}`, D1],
      [`quay.io/x/y@${D2}`, D2],
    ],
    '',
    undefined,
  ],
  [
    'the prefix is part of the name',
    [
      ['docker.io/x/y:1', D1],
      ['quay.io/x/y:1', D2],
    ],
    'mirror/',
    /would both be pushed as mirror\/x\/y:1/,
  ],
  [
    'a tag and digest ref collide on its tag',
    [
      [`docker.io/x/y:1@${D1}`, D1],
      ['ghcr.io/x/y:1', D2],
    ],
    '',
    /would both be pushed as x\/y:1/,
  ],
];

describe('checkCollisions', () => {
  it.each(CASES)('%s', (_name, refs, prefix, refused) => {
    const run = () => checkCollisions(refs.map(([ref, digest]) => ({ target: pushTarget(ref, prefix), digest })));
    if (!refused) return expect(run).not.toThrow();
    const err = thrown(() => run());
    expect(isAirgapError(err, 'TARGET_CONFLICT'), String(err)).toBe(true);
    expect((err as Error).message).toMatch(refused);
  });

  it('planPush refuses a bundle whose images would land on one tag, before anything is sent', async () => {
    const dir = await testdir();
    const fixture = await makeBundle({
      dir,
      images: [
        { ref: 'docker.io/team/app:1', files: { 'a.txt': 'from docker.io\n' } },
        { ref: 'quay.io/team/app:1', files: { 'a.txt': 'from quay.io\n' } },
      ],
    });
    const bundle = await verifyBundle(fixture.file, { keys: [await loadPublicKey(fixture.pubFile)] });
    const err: unknown = await planPush(bundle, 'site/').catch((e: unknown) => e);
    expect(isAirgapError(err, 'TARGET_CONFLICT'), String(err)).toBe(true);
    expect((err as Error).message).toBe('docker.io/team/app:1 and quay.io/team/app:1 would both be pushed as site/team/app:1');
  });
});
