import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { AirgapError, removeStaleTemps, writeFileAtomic } from '@airgap/core';
import { nodePath } from '../node/node-path.ts';

export const STATE_DIR = '/var/lib/airgap';
export const STATE_FILE = `${STATE_DIR}/state.json`;

/** What the applier owns on the node and what it last applied. */
export interface AirgapState {
  stateVersion: 1;
  /**
   * The last bundle that converged fully; its k8s release decides how `status` checks readiness,
   * its name, sequence and createdAt which bundles preflight refuses as older.
   */
  bundle?: { name: string; digest: string; k8sRelease?: string; sequence?: number; createdAt?: string };
  /** Node path → the sha256 the applier wrote there (`symlink:<target>` for links), and which step. */
  files: Record<string, { sha256: string; step: string }>;
  /** Keys the applier set in /etc/environment. */
  envKeys: string[];
  snaps: Record<string, number>;
  /**
   * Image name → digest of every image the applier put into containerd (imported, or side-loaded
   * for the snap to import): the only images prune may remove. Absent in older state files.
   */
  images?: Record<string, string>;
  /** Set before proxy config is written, cleared once containerd restarted (or was not running): survives a crash in between. */
  restartPending: boolean;
  cluster?: 'bootstrapped' | 'joined';
  /**
   * What the workloads step installed from this node: each release with the chart and values digests
   * it was installed with, and the digest of the manifests last applied. Absent in older state files.
   */
  workloads?: { charts: Record<string, InstalledChart>; manifests?: string };
}

export interface InstalledChart {
  namespace: string;
  version: string;
  digest: string;
  valuesDigest: string;
}

/** The state file as loaded; only the recorder (recorder.ts) calls `save`. */
export interface StateStore {
  value: AirgapState;
  /** Atomic write; a no-op in dry runs. */
  save(): Promise<void>;
}

export function emptyState(): AirgapState {
  return { stateVersion: 1, files: {}, envKeys: [], snaps: {}, restartPending: false };
}

export async function loadState(root: string, options: { dryRun: boolean }): Promise<StateStore> {
  const file = nodePath(root, STATE_FILE);
  let value = emptyState();
  const text = await readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw err;
  });
  if (text !== undefined) {
    try {
      const parsed = JSON.parse(text) as Partial<AirgapState>;
      if (parsed.stateVersion !== 1 || typeof parsed.files !== 'object') throw new Error('unknown stateVersion');
      value = { ...emptyState(), ...parsed };
    } catch (err) {
      throw new AirgapError('IO_FAILED', `${file} is not a state file this applier understands`, {
        hint: 'move it aside and re-run; the applier then treats nothing on the node as its own',
        cause: err,
      });
    }
  }
  // A run killed while saving leaves its temp file behind; `plan` (dryRun) changes nothing.
  if (!options.dryRun) await removeStaleTemps(file);
  const store: StateStore = {
    value,
    async save() {
      if (options.dryRun) return;
      await mkdir(path.dirname(file), { recursive: true, mode: 0o755 });
      await writeFileAtomic(file, `${JSON.stringify(store.value, null, 2)}\n`, { mode: 0o600 });
    },
  };
  return store;
}
