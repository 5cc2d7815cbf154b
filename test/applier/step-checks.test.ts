import { describe, expect, it } from 'vitest';
import type { BundleManifest, VerifiedBundle } from '@airgap/core';
import { preflightProblems, type PreflightSeen } from '../../packages/applier/src/preflight.ts';
import { emptyState, type AirgapState } from '../../packages/applier/src/state/state-store.ts';
import { restart } from '../../packages/applier/src/steps/restart.ts';
import { snaps } from '../../packages/applier/src/steps/snaps.ts';
import type { NodeFacts, StepView } from '../../packages/applier/src/types.ts';

// Planning decides from what was read and nothing else: these run no tool and read no file.

const SNAPS = [
  { name: 'snapd', revision: 21759 },
  { name: 'k8s', revision: 3001 },
];

function facts(manifest: Partial<BundleManifest> = {}): NodeFacts {
  const m = {
    platforms: ['linux/amd64'],
    entries: [{ path: 'x', mode: 0o644, size: 1024 * 1024, sha256: '' }],
    snaps: SNAPS,
    spec: {},
    ...manifest,
  } as unknown as BundleManifest;
  const bundle = { manifest: m } as VerifiedBundle;
  const containerd = {
    base: '/',
    from: 'confinement',
    hostsDir: '/etc/containerd/hosts.d',
    socket: '/run/containerd/containerd.sock',
    runDir: '/run/containerd',
  } as const;
  return {
    root: '/r',
    bundle,
    containerdAddress: '/no.sock',
    containerd,
    ctrPath: 'ctr',
    k8s: 'k8s',
    joinToken: undefined,
    addressFlag: undefined,
    nodeName: 'n1',
    waitTimeoutMs: 1000,
  };
}

const view = (o: { state?: Partial<AirgapState>; changed?: string[] } = {}): StepView => ({
  node: facts(),
  state: { ...emptyState(), ...o.state },
  changed: new Set(o.changed ?? []),
});

const DISK = { mount: '/', paths: ['/etc'], needBytes: 4096, freeBytes: 10 * 1024 * 1024, needs: [] };
/** A /var of its own that is too small for the snaps (disk-plan.ts decides; test/applier/disk.test.ts reads real ones). */
const SHORT = { mount: '/var', paths: ['/var/lib/snapd/snaps'], needBytes: 2 * 1024 * 1024, freeBytes: 1024, needs: [] };
const SEEN: PreflightSeen = { uid: 0, arch: 'amd64', disk: [DISK], snapd: { ok: true }, preInit: undefined, defaultRoutes: 1 };

describe('preflightProblems', () => {
  const CASES: [string, Partial<PreflightSeen>, string[]][] = [
    ['a node that can converge', {}, []],
    ['not root', { uid: 1000 }, ['user']],
    ['another architecture', { arch: 'arm64' }, ['architecture']],
    ['a file system with less free space than the apply writes there', { disk: [DISK, SHORT] }, ['disk /var']],
    ['snapd not usable', { snapd: { ok: false, why: 'no snapd' } }, ['snap']],
    ['k8s cannot tell membership', { preInit: { intent: 'bootstrap', error: 'k8sd down' } }, ['k8s']],
    ['a member: nothing of the pre-init checks', { preInit: { intent: 'bootstrap', member: true } }, []],
    [
      'a foreign containerd and busy ports before bootstrap',
      { preInit: { intent: 'bootstrap', member: false, runDirTaken: true, busy: [10250, 6443] } },
      ['/run/containerd', 'ports'],
    ],
    ['no default route, none in the bundle', { defaultRoutes: 0 }, ['default route']],
    [
      'everything at once, in a fixed order',
      { uid: 1, arch: 'arm64', disk: [SHORT], snapd: { ok: false, why: 'x' }, defaultRoutes: 0 },
      ['user', 'architecture', 'disk /var', 'snap', 'default route'],
    ],
  ];
  it.each(CASES)('%s', (_name, seen, about) => {
    expect(preflightProblems(facts(), { ...SEEN, ...seen }).map((p) => p.about)).toEqual(about);
  });

  it('names busy ports in order with what holds them', () => {
    const [ports] = preflightProblems(facts(), { ...SEEN, preInit: { intent: 'bootstrap', member: false, runDirTaken: false, busy: [10250, 6443] } });
    expect(ports?.why).toMatch(/already listens on 6443 \(kube-apiserver\), 10250 \(kubelet\)/);
  });
});

describe('snaps check', () => {
  const CASES: [string, Partial<AirgapState>, (number | undefined)[], string[]][] = [
    ['nothing installed', {}, [undefined, undefined], ['install snapd=21759', 'install k8s=3001']],
    ['an older k8s', { snaps: { snapd: 21759 } }, [21759, 2000], ['refresh k8s=3001']],
    ['installed, the state does not say so (a run killed before saving)', { snaps: {} }, [21759, 3001], ['record snapd=21759', 'record k8s=3001']],
    ['installed and recorded', { snaps: { snapd: 21759, k8s: 3001 } }, [21759, 3001], []],
  ];
  it.each(CASES)('%s', (_name, state, installed, want) => {
    const seen = new Map(SNAPS.map((s, i) => [s.name, installed[i]]));
    const changes = snaps.definition.check(view({ state }), seen);
    expect(changes.map((c) => snaps.definition.show(c)).map((s) => `${s.action} ${s.target}`)).toEqual(want);
  });
});

describe('restart check', () => {
  const CASES: [string, { state?: Partial<AirgapState>; changed?: string[] }, { active: boolean } | undefined, string[]][] = [
    ['proxy unchanged, nothing pending', {}, undefined, []],
    ['proxy changed, containerd runs', { changed: ['proxy'] }, { active: true }, ['restart']],
    ['proxy changed, containerd not running', { changed: ['proxy'] }, { active: false }, ['record']],
    ['a restart owed by a killed run', { state: { restartPending: true } }, { active: true }, ['restart']],
  ];
  it.each(CASES)('%s', (_name, o, seen, kinds) => {
    expect(restart.definition.check(view(o), seen).map((c) => c.kind)).toEqual(kinds);
  });
});
