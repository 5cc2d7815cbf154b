import { describe, expect, it } from 'vitest';
import { lockProblems, type Lock, type LockedSnap, type Spec } from '@airgap/core';

const snap = (name: string, revision: number, channel?: string): LockedSnap => ({
  name,
  revision,
  'sha3-384': 'x'.repeat(96),
  size: 1,
  ...(channel ? { channel } : {}),
});
const spec = (over: Partial<Spec> = {}): Spec => ({
  apiVersion: 'airgap/v1alpha1',
  kind: 'Bundle',
  metadata: { name: 't' },
  k8s: { channel: '1.34-classic/stable', snapd: true },
  ...over,
});
const lock = (snaps: LockedSnap[], images: string[] = []): Lock => ({
  lockVersion: 1,
  snaps,
  images: images.map((ref) => ({ ref, digest: `sha256:${'a'.repeat(64)}` })),
});
const BASE = [snap('k8s', 3001, '1.34-classic/stable'), snap('snapd', 21759), snap('core22', 1722)];
const images = (refs: NonNullable<Spec['images']>['refs']): Spec['images'] => ({ platforms: ['linux/amd64'], attestations: 'keep', k8sFeatures: false, refs });

const CASES: [string, Spec, Lock, string[]][] = [
  ['a lock that covers the spec', spec(), lock(BASE), []],
  ['the k8s snap missing', spec(), lock(BASE.slice(1)), ['snap k8s is not locked']],
  ['snapd missing when the spec carries it', spec(), lock([BASE[0]!, BASE[2]!]), ['snap snapd is not locked']],
  ['snapd not needed when the spec does not carry it', spec({ k8s: { channel: '1.34-classic/stable', snapd: false } }), lock([BASE[0]!]), []],
  [
    'another channel',
    spec({ k8s: { channel: '1.35-classic/stable', snapd: true } }),
    lock(BASE),
    ['snap k8s is locked from channel 1.34-classic/stable, the spec asks for 1.35-classic/stable'],
  ],
  [
    'another pinned revision',
    spec({ k8s: { channel: '1.34-classic/stable', revision: 3002, snapd: true } }),
    lock(BASE),
    ['snap k8s is locked at revision 3001, the spec pins 3002'],
  ],
  ['an extra snap not locked', spec({ snaps: [{ name: 'helm', channel: '3/stable', classic: true }] }), lock(BASE), ['snap helm is not locked']],
  [
    'an extra snap locked from its channel',
    spec({ snaps: [{ name: 'helm', channel: '3/stable', classic: true }] }),
    lock([...BASE, snap('helm', 7, '3/stable')]),
    [],
  ],
  ['an image not locked', spec({ images: images(['docker.io/library/nginx:1.27']) }), lock(BASE), ['image docker.io/library/nginx:1.27 is not locked']],
  [
    'an image written as {ref, platforms}',
    spec({ images: images([{ ref: 'docker.io/x/y:1', platforms: ['linux/arm64'] }]) }),
    lock(BASE, ['docker.io/x/y:1']),
    [],
  ],
  ['a locked image the spec dropped is no problem', spec(), lock(BASE, ['docker.io/x/y:1']), []],
  [
    'every problem, in order',
    spec({
      k8s: { channel: '1.35-classic/stable', snapd: true },
      snaps: [{ name: 'helm', channel: '3/stable', classic: true }],
      images: images(['docker.io/a/b:1']),
    }),
    lock([BASE[0]!]),
    [
      'snap k8s is locked from channel 1.34-classic/stable, the spec asks for 1.35-classic/stable',
      'snap snapd is not locked',
      'snap helm is not locked',
      'image docker.io/a/b:1 is not locked',
    ],
  ],
];

describe('lockProblems', () => {
  it.each(CASES)('%s', (_name, s, l, want) => {
    expect(lockProblems(s, l)).toEqual(want);
  });
});
