import { access } from 'node:fs/promises';
import path from 'node:path';
import {
  AirgapError,
  fingerprintOf,
  loadPrivateKey,
  loadSpec,
  planDelta,
  renderLock,
  writeBundle,
  writeLock,
  type Lock,
  type PassphraseSource,
  type WrittenBundle,
} from '@airgap/core';
import { createPublicKey } from 'node:crypto';
import { applierBinaries } from '../applier-binaries.ts';
import { loadDeltaBase } from '../delta-base.ts';
import { defaultCacheDir } from '../cache-dir.ts';
import { bundlePlatforms, planBundle, type PullImages } from '../plan-bundle.ts';
import { pullImagesForSpec } from '../images-stage.ts';

export interface BuildOptions {
  spec: string;
  /** Output path, e.g. bundle.tar; written to a temp name and renamed. */
  out: string;
  key: string;
  /** The passphrase of an encrypted key (`keygen --encrypt`); default: AIRGAP_KEY_PASSPHRASE only. */
  passphrase?: PassphraseSource;
  /** Refuse to build unless the lock file covers the spec, and never change it. */
  frozen?: boolean;
  cacheDir?: string;
  /** SOURCE_DATE_EPOCH; default now. */
  sourceDateEpoch?: number;
  /**
   * Carry the standalone applier, one executable per platform of `images.platforms`
   * (`applier/linux-amd64/applier`, about 100 MB each). Default true; `--no-applier` sets false.
   */
  applier?: boolean;
  pullImages?: PullImages;
  /** `--helm PATH`: renders workloads.charts to find their images (default: helm on PATH, else the k8s snap's). */
  helm?: string;
  /** Write `OUT.000`, `OUT.001`, … of at most this many bytes each (see parsePartSize). */
  split?: number;
  /**
   * Build a delta: leave out the image blobs and snaps this earlier bundle (file, first part, folder
   * of parts, or its signed head) already carries. @example 'site-2025-06.head'
   */
  base?: string;
  /** Public keys the base's signature is checked against, besides the signing key's own (default: /etc/airgap/trusted.d). */
  pubs?: string[];
}

export interface BuildResult {
  bundle: WrittenBundle;
  lockFile: string;
  lockChanged: boolean;
  /** Workload images that cannot be carried, charts carried unchecked. */
  warnings: string[];
}

export async function build(o: BuildOptions): Promise<BuildResult> {
  const loaded = await loadSpec(o.spec);
  const key = await loadPrivateKey(o.key, o.passphrase ?? (() => Promise.resolve(process.env.AIRGAP_KEY_PASSPHRASE)));
  const outDir = path.dirname(path.resolve(o.out));
  await access(outDir).catch((err: unknown) => {
    throw new AirgapError('OUTPUT_INVALID', `output folder ${outDir} does not exist`, { hint: 'create it or choose another -o', cause: err });
  });
  // Before the (possibly long) snap and image stages: an unsupported platform fails fast.
  const applier = o.applier === false ? [] : await applierBinaries(bundlePlatforms(loaded.spec));
  const plan = await planBundle({
    loaded,
    frozen: o.frozen ?? false,
    cacheDir: path.resolve(o.cacheDir ?? defaultCacheDir()),
    createdAt: o.sourceDateEpoch ?? Math.floor(Date.now() / 1000),
    signer: fingerprintOf(createPublicKey(key)),
    pullImages: o.pullImages ?? pullImagesForSpec,
    extraSources: applier,
    ...(o.helm ? { helm: o.helm } : {}),
  });
  const lockChanged = !sameLock(plan.previousLock, plan.lock);
  if (o.frozen && lockChanged) {
    throw new AirgapError('LOCK_STALE', `--frozen: the inputs resolve differently from ${plan.lockFile}`, {
      hint: 'run `bundler lock airgap.yaml`, review the diff and commit it',
    });
  }
  const payload = o.base === undefined ? plan : planDelta({ ...plan, base: await loadDeltaBase({ base: o.base, key, pubs: o.pubs ?? [] }) });
  const bundle = await writeBundle({
    out: o.out,
    manifest: payload.manifest,
    sources: payload.sources,
    key,
    ...(o.split === undefined ? {} : { split: o.split }),
  });
  if (lockChanged) await writeLock(plan.lockFile, plan.lock);
  return { bundle, lockFile: plan.lockFile, lockChanged, warnings: plan.workloads.warnings };
}

export function sameLock(a: Lock | undefined, b: Lock): boolean {
  return a !== undefined && renderLock(a) === renderLock(b);
}

const UNITS: Record<string, number> = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 };

/**
 * `--split` sizes: bytes, or K, M, G, T in powers of 1024 (`4G` is 4294967296 bytes, one more
 * than FAT32 allows in a file: use `4000M` there).
 *
 * @example parsePartSize('512M') === 536870912
 */
export function parsePartSize(text: string): number {
  const m = /^(\d+)([KMGT]?)(?:i?B)?$/i.exec(text.trim());
  const bytes = m ? Number(m[1]) * UNITS[m[2]!.toUpperCase()]! : Number.NaN;
  if (!Number.isSafeInteger(bytes) || bytes < 1024) {
    throw new AirgapError('USAGE', `--split ${text} is not a part size of at least 1K`, {
      hint: 'give bytes or K, M, G (powers of 1024), e.g. --split 4000M for FAT32, --split 4G, --split 4000000000',
    });
  }
  return bytes;
}
