import path from 'node:path';
import { loadSpec, writeLock, type Lock } from '@airgap/core';
import { defaultCacheDir } from '../cache-dir.ts';
import { planBundle, type PullImages } from '../plan-bundle.ts';
import { imagesStage } from '../images-stage.ts';
import { sameLock } from './build.ts';

export interface LockOptions {
  spec: string;
  cacheDir?: string;
  pullImages?: PullImages;
  /** `--helm PATH` (see build). */
  helm?: string;
}

/** Resolve every snap and image of the spec and write airgap.lock.yaml beside it. */
export async function lock(o: LockOptions): Promise<{ lockFile: string; lock: Lock; changed: boolean }> {
  const loaded = await loadSpec(o.spec);
  const plan = await planBundle({
    loaded,
    frozen: false,
    cacheDir: path.resolve(o.cacheDir ?? defaultCacheDir()),
    createdAt: 0,
    // No key is needed to lock: the manifest planned here is thrown away.
    signer: '',
    // No bundle is written: the snaps are checked now, and no SBOM is made.
    writesBundle: false,
    // Locking needs digests, not layers: manifests are fetched, no blob is downloaded.
    pullImages: o.pullImages ?? imagesStage({ resolveOnly: true }),
    ...(o.helm ? { helm: o.helm } : {}),
  });
  const changed = !sameLock(plan.previousLock, plan.lock);
  if (changed) await writeLock(plan.lockFile, plan.lock);
  return { lockFile: plan.lockFile, lock: plan.lock, changed };
}
