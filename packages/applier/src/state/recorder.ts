import type { AirgapState, InstalledChart, StateStore } from './state-store.ts';

/**
 * The one writer of state.json. Every method changes one fact and saves at once (atomically; a
 * no-op in dry runs), so a kill right after any of them leaves a state file that says exactly
 * what is done. Steps read the state through `state` and never change it themselves.
 */
export interface Recorder {
  readonly state: Readonly<AirgapState>;
  /** The applier owns `abs` with this content (claimed before the file is written). */
  claim(abs: string, o: { sha256: string; step: string }): Promise<void>;
  /** `abs` is gone and no longer the applier's. */
  forget(abs: string): Promise<void>;
  snapInstalled(name: string, revision: number): Promise<void>;
  /** The applier put this image into containerd (import or side-load): prune may remove it later. */
  imageImported(ref: string, digest: string): Promise<void>;
  /** The image is gone from containerd (pruned, or no longer the applier's). */
  imageForgotten(ref: string): Promise<void>;
  envKeys(keys: string[]): Promise<void>;
  restartPending(pending: boolean): Promise<void>;
  clusterEntered(how: 'bootstrapped' | 'joined'): Promise<void>;
  /** `k8s helm upgrade --install` of this release succeeded with these digests. */
  chartInstalled(name: string, chart: InstalledChart): Promise<void>;
  /** `k8s kubectl apply --server-side` of the bundle's manifests (this digest over them) succeeded. */
  manifestsApplied(digest: string): Promise<void>;
  /** The whole bundle converged. */
  converged(bundle: NonNullable<AirgapState['bundle']>): Promise<void>;
}

export function createRecorder(store: StateStore): Recorder {
  const update = async (change: (s: AirgapState) => void) => {
    change(store.value);
    await store.save();
  };
  return {
    get state() {
      return store.value;
    },
    claim: (abs, o) => update((s) => void (s.files[abs] = { sha256: o.sha256, step: o.step })),
    forget: (abs) => update((s) => void delete s.files[abs]),
    snapInstalled: (name, revision) => update((s) => void (s.snaps[name] = revision)),
    // Sorted: the same images make the same state file, whichever run recorded which.
    imageImported: (ref, digest) =>
      update((s) => void (s.images = Object.fromEntries(Object.entries({ ...s.images, [ref]: digest }).sort(([a], [b]) => a.localeCompare(b))))),
    imageForgotten: (ref) => update((s) => void (s.images && delete s.images[ref])),
    envKeys: (keys) => update((s) => void (s.envKeys = keys)),
    restartPending: (pending) => update((s) => void (s.restartPending = pending)),
    clusterEntered: (how) => update((s) => void (s.cluster = how)),
    chartInstalled: (name, chart) => update((s) => void (s.workloads = { ...s.workloads, charts: { ...s.workloads?.charts, [name]: chart } })),
    manifestsApplied: (digest) => update((s) => void (s.workloads = { charts: s.workloads?.charts ?? {}, manifests: digest })),
    converged: (bundle) => update((s) => void (s.bundle = bundle)),
  };
}
