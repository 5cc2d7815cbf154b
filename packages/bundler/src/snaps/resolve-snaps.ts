import { mkdir, rename, stat } from 'node:fs/promises';
import path from 'node:path';
import { AirgapError, type Lock, type LockedSnap, type SnapRole, type Spec } from '@airgap/core';
import { snapDownload } from '../tools/snap-download.ts';
import { checkSnap, readSnapAssertion, type CheckedSnap } from './check-snap.ts';
import { debug, fileKey, openDigestCache, sameFile, type DigestCache } from './digest-cache.ts';
import { findSnapFile, listSnapFiles } from './find-snap-file.ts';
import { readSnapMeta, type SnapMeta } from './snap-meta.ts';

export interface ResolvedSnap extends CheckedSnap {
  role: SnapRole;
  channel?: string;
  classic: boolean;
  meta: SnapMeta;
}

export interface ResolveSnapsOptions {
  spec: Spec;
  specDir: string;
  lock?: Lock;
  frozen: boolean;
  cacheDir: string;
  /**
   * Check only the assertions and sizes here, not the SHA3-384: the caller hands every snap to
   * writeBundle with `snapDigestExpectation`, which checks it while copying, so a build reads each
   * snap once. Default false: every snap is hashed now.
   */
  deferDigestCheck?: boolean;
  /** The verified-digest cache; default: the one in `cacheDir`. */
  digests?: DigestCache;
}

interface SnapRequest {
  name: string;
  role: SnapRole;
  channel?: string;
  revision?: number;
}

/** Every snap the bundle carries, in install order: snapd, bases, k8s, extra snaps. */
export async function resolveSnaps(options: ResolveSnapsOptions): Promise<ResolvedSnap[]> {
  const o = { ...options, digests: options.digests ?? (await openDigestCache(options.cacheDir)) };
  const k8s = await obtain(o, { name: 'k8s', role: 'k8s', channel: o.spec.k8s.channel, revision: o.spec.k8s.revision });
  const extras: ResolvedSnap[] = [];
  for (const s of o.spec.snaps ?? []) extras.push(await obtain(o, { name: s.name, role: 'extra', channel: s.channel, revision: s.revision }));
  for (const [i, s] of (o.spec.snaps ?? []).entries()) {
    if (s.classic && !extras[i]!.classic) extras[i]!.classic = true;
  }
  const baseNames = [...new Set([k8s, ...extras].map((s) => s.meta.base).filter((b): b is string => b !== undefined))];
  const bases: ResolvedSnap[] = [];
  for (const name of baseNames) bases.push(await obtain(o, { name, role: 'base' }));
  const snapd = o.spec.k8s.snapd ? [await obtain(o, { name: 'snapd', role: 'snapd' })] : [];
  return [...snapd, ...bases, k8s, ...extras];
}

async function obtain(o: ResolveSnapsOptions & { digests: DigestCache }, req: SnapRequest): Promise<ResolvedSnap> {
  const locked = findLocked(o.lock, req);
  if (o.frozen && !locked) {
    throw new AirgapError('LOCK_STALE', `--frozen: the lock file has no entry for snap ${req.name}${req.channel ? ` (${req.channel})` : ''}`, {
      hint: 'run `bundler lock airgap.yaml` and commit airgap.lock.yaml',
    });
  }
  const revision = req.revision ?? locked?.revision;
  let file: { snapPath: string; assertPath: string };
  if (o.spec.sources?.snapsDir) {
    file = await findSnapFile(path.resolve(o.specDir, o.spec.sources.snapsDir), req.name, revision, req.channel);
  } else {
    file = await downloadToCache(o.cacheDir, req, revision);
  }
  const checked = await checkWithCache(o, req.name, file);
  if (revision !== undefined && checked.revision !== revision) {
    throw new AirgapError('SNAP_INVALID', `${path.basename(file.snapPath)} is asserted as revision ${checked.revision}, expected ${revision}`, {
      hint: `download ${req.name} revision ${revision} again`,
    });
  }
  if (locked && locked.revision === checked.revision && (locked['sha3-384'] !== checked.sha3_384 || locked.size !== checked.size)) {
    throw new AirgapError('DIGEST_MISMATCH', `${req.name} revision ${checked.revision} differs from the one in the lock file`, {
      hint: 'the snap file is not the one locked; download it again, or re-lock if you mean to change it',
    });
  }
  const meta = await readSnapMeta(file.snapPath);
  if (meta.name !== req.name)
    throw new AirgapError('SNAP_INVALID', `${path.basename(file.snapPath)} contains snap "${meta.name}", not "${req.name}"`, {
      hint: 'the file is misnamed; download the right snap',
    });
  return { ...checked, role: req.role, channel: req.channel, classic: meta.confinement === 'classic', meta };
}

/**
 * The snap's assertion checked, and its SHA3-384: from the verified-digest cache when the file is
 * the one verified before (then not hashed again), else hashed now or, deferred, by the copy into
 * the bundle; either way a digest that matches the assertion is recorded for the next build.
 */
async function checkWithCache(
  o: ResolveSnapsOptions & { digests: DigestCache },
  name: string,
  file: { snapPath: string; assertPath: string },
): Promise<CheckedSnap> {
  const asserted = await readSnapAssertion(name, file.snapPath, file.assertPath);
  // Before anything reads the snap's bytes: a change after this stat shows as a different key.
  const key = await fileKey(file.snapPath);
  if (o.digests.has(file.snapPath, key, asserted.sha3_384)) {
    debug('%s: sha3-384 from the verified-digest cache', file.snapPath);
    return { ...asserted, cached: { known: { unchanged: async () => sameFile(await fileKey(file.snapPath), key) } } };
  }
  debug('%s: sha3-384 not cached, hashing', file.snapPath);
  const record = () => o.digests.record(file.snapPath, key, asserted.sha3_384);
  if (o.deferDigestCheck) return { ...asserted, cached: { onVerified: record } };
  const checked = await checkSnap(name, file.snapPath, file.assertPath);
  await record();
  return checked;
}

function findLocked(lock: Lock | undefined, req: SnapRequest): LockedSnap | undefined {
  const entry = lock?.snaps.find((s) => s.name === req.name);
  if (!entry) return undefined;
  if (req.channel !== undefined && entry.channel !== req.channel) return undefined;
  if (req.revision !== undefined && entry.revision !== req.revision) return undefined;
  return entry;
}

/** `snap download` into the cache, reusing a pinned revision already held there. */
async function downloadToCache(cacheDir: string, req: SnapRequest, revision: number | undefined): Promise<{ snapPath: string; assertPath: string }> {
  const dir = path.join(cacheDir, 'snaps');
  await mkdir(dir, { recursive: true });
  if (revision !== undefined) {
    const held = (await listSnapFiles(dir, req.name)).find((f) => f.revision === revision);
    if (held) return held;
  }
  const basename = `.${req.name}.download-${process.pid}`;
  await snapDownload({ name: req.name, channel: req.channel, revision, dir, basename });
  const tmpSnap = path.join(dir, `${basename}.snap`);
  const tmpAssert = path.join(dir, `${basename}.assert`);
  await stat(tmpSnap).catch((err: unknown) => {
    throw new AirgapError('SNAP_NOT_FOUND', `snap download ${req.name} wrote no ${basename}.snap`, { cause: err });
  });
  const checked = await checkSnap(req.name, tmpSnap, tmpAssert);
  const snapPath = path.join(dir, `${req.name}_${checked.revision}.snap`);
  const assertPath = path.join(dir, `${req.name}_${checked.revision}.assert`);
  await rename(tmpAssert, assertPath);
  await rename(tmpSnap, snapPath);
  return { snapPath, assertPath };
}
