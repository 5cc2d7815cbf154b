import { describe, expect, it } from 'vitest';
import { isAirgapError, parseReference, splitReference, type ImageReference } from '@airgap/core';
import { thrown } from './thrown.ts';

const D = `sha256:${'a'.repeat(64)}`;

// distribution/reference's grammar, with the registry required: airgap never guesses docker.io.
const GOOD: [string, Omit<ImageReference, 'name'>][] = [
  ['docker.io/library/nginx:1.27', { registry: 'docker.io', repository: 'library/nginx', tag: '1.27' }],
  [`docker.io/library/nginx@${D}`, { registry: 'docker.io', repository: 'library/nginx', digest: D }],
  [`docker.io/library/nginx:1.27@${D}`, { registry: 'docker.io', repository: 'library/nginx', tag: '1.27', digest: D }],
  ['127.0.0.1:5000/a/b/c:v1', { registry: '127.0.0.1:5000', repository: 'a/b/c', tag: 'v1' }],
  ['localhost:5000/x:latest', { registry: 'localhost:5000', repository: 'x', tag: 'latest' }],
  ['[::1]:5000/x/y:1', { registry: '[::1]:5000', repository: 'x/y', tag: '1' }],
  ['Registry.Example.COM/team/app:1', { registry: 'Registry.Example.COM', repository: 'team/app', tag: '1' }],
  ['ghcr.io/a-b/c__d/e.f:1.2.3-rc_1', { registry: 'ghcr.io', repository: 'a-b/c__d/e.f', tag: '1.2.3-rc_1' }],
  // The first component is always the registry (no docker.io guess), dotted or not.
  ['library/nginx:1.27', { registry: 'library', repository: 'nginx', tag: '1.27' }],
  [`quay.io/x/y:${'t'.repeat(128)}`, { registry: 'quay.io', repository: 'x/y', tag: 't'.repeat(128) }],
];

const BAD: [string, string][] = [
  ['a short name', 'nginx:1.27'],
  ['neither tag nor digest', 'docker.io/library/nginx'],
  ['upper case in the repository', 'docker.io/Library/nginx:1'],
  ['a tag of 129 characters', `docker.io/x/y:${'t'.repeat(129)}`],
  ['a tag starting with a dot', 'docker.io/x/y:.1'],
  ['a short digest', 'docker.io/x/y@sha256:abc'],
  ['a digest of another algorithm', `docker.io/x/y@sha512:${'a'.repeat(128)}`],
  ['upper-case hex', `docker.io/x/y@sha256:${'A'.repeat(64)}`],
  ['a scheme', 'https://docker.io/x/y:1'],
  ['a trailing slash', 'docker.io/x/:1'],
  ['a double slash', 'docker.io//x:1'],
  ['a space', 'docker.io/x y:1'],
  ['an empty string', ''],
  ['a separator at the end of a component', 'docker.io/x-/y:1'],
];

describe('parseReference', () => {
  it.each(GOOD)('reads %s', (ref, want) => {
    expect(parseReference(ref)).toEqual({ ...want, name: ref });
  });
  it.each(BAD)('refuses %s with SPEC_INVALID', (_name, ref) => {
    const err = thrown(() => parseReference(ref));
    expect(isAirgapError(err, 'SPEC_INVALID'), String(err)).toBe(true);
  });
});

// The parts of refs already checked (a verified bundle's): the one place a reference is taken apart.
const SPLIT: [string, ReturnType<typeof splitReference>][] = [
  ['docker.io/library/nginx:1.27', { registry: 'docker.io', repository: 'library/nginx', tag: '1.27' }],
  ['localhost:5000/x/y', { registry: 'localhost:5000', repository: 'x/y' }],
  [`localhost:5000/x/y@${D}`, { registry: 'localhost:5000', repository: 'x/y', digest: D }],
  [`[::1]:5000/x:1@${D}`, { registry: '[::1]:5000', repository: 'x', tag: '1', digest: D }],
];

describe('splitReference', () => {
  it.each(SPLIT)('splits %s', (ref, want) => {
    expect(splitReference(ref)).toEqual(want);
  });
  it.each(GOOD)('agrees with parseReference on %s', (ref) => {
    const { name: _name, ...parts } = parseReference(ref);
    expect(splitReference(ref)).toEqual(parts);
  });
});
