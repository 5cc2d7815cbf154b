import { mkdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { debuglog } from 'node:util';
import { writeFileAtomic } from '@airgap/core';

/**
 * `NODE_DEBUG=airgap-digests bundler build …` prints, for every snap, whether its SHA3-384 came
 * from this cache or was hashed (and whether it was then recorded).
 */
export const debug = debuglog('airgap-digests');

const FILE_NAME = 'verified-digests.json';
const VERSION = 1;

/**
 * A file changed within one timestamp tick of being hashed could keep its mtime and ctime: an
 * entry is only trusted when the file's ctime is this much older than the stat taken before it was
 * hashed (Git's "racy" entries, the same problem). 2 s: FAT's timestamp granularity, the coarsest
 * a snaps folder on a USB stick is likely to have; ext4, XFS, btrfs and tmpfs tick in milliseconds.
 */
export const RACY_WINDOW_NS = 2_000_000_000n;

/** What identifies a file's content without reading it: any write changes size, mtime or ctime. */
export interface FileKey {
  dev: string;
  ino: string;
  size: string;
  mtimeNs: string;
  ctimeNs: string;
  /** When this key was taken (not part of the identity). */
  takenNs: string;
}

interface Entry extends Omit<FileKey, 'takenNs'> {
  /** The stat before the hash: ctime must be older than this by RACY_WINDOW_NS. */
  verifiedAtNs: string;
  'sha3-384': string;
}

/**
 * Verified SHA3-384s of local snap files, keyed by (device, inode, size, mtime, ctime), in
 * `<cacheDir>/verified-digests.json`: an unchanged snap is not hashed again by the next build
 * (the bundle's SHA-256 of it is still computed as it is written). Any difference in the key, a
 * racy entry, or an entry whose digest is not the one the snap's assertion gives is a miss, and the
 * snap is hashed (and checked against its assertion) as before. A damaged or unreadable cache file
 * is ignored; a cache that cannot be written only costs the next build a hash.
 */
export interface DigestCache {
  /**
   * Whether `file`, with `key`, was verified to have SHA3-384 `sha3` (base64url): a hit. A key that
   * differs, a racy entry, or another digest (a damaged or tampered entry) is a miss.
   */
  has(file: string, key: FileKey, sha3: string): boolean;
  /**
   * Record a digest verified from the bytes read after `key` was taken, if the file still has that
   * key now (it did not change while it was read) and the key is not racy; saved at once.
   */
  record(file: string, key: FileKey, sha3: string): Promise<void>;
  /** What this cache did, for `--verbose` lines and tests: lookups that hit or missed, digests recorded. */
  readonly counts: { hits: number; misses: number; recorded: number };
}

export async function fileKey(file: string): Promise<FileKey> {
  // Wall-clock time, as ctime is: taken before the stat, so a change after it is never older.
  const takenNs = BigInt(Date.now()) * 1_000_000n;
  const s = await stat(file, { bigint: true });
  return {
    dev: String(s.dev),
    ino: String(s.ino),
    size: String(s.size),
    mtimeNs: String(s.mtimeNs),
    ctimeNs: String(s.ctimeNs),
    takenNs: String(takenNs),
  };
}

export function sameFile(a: FileKey, b: Omit<FileKey, 'takenNs'>): boolean {
  return a.dev === b.dev && a.ino === b.ino && a.size === b.size && a.mtimeNs === b.mtimeNs && a.ctimeNs === b.ctimeNs;
}

export async function openDigestCache(cacheDir: string): Promise<DigestCache> {
  const file = path.join(cacheDir, FILE_NAME);
  const entries = await load(file);
  let saving: Promise<void> = Promise.resolve();
  const counts = { hits: 0, misses: 0, recorded: 0 };
  return {
    counts,
    has(snap, key, sha3) {
      const e = entries.get(path.resolve(snap));
      const hit = e !== undefined && sameFile(key, e) && !racy(e.ctimeNs, e.verifiedAtNs) && e['sha3-384'] === sha3;
      counts[hit ? 'hits' : 'misses']++;
      return hit;
    },
    async record(snap, key, sha3) {
      const now = await fileKey(snap).catch(() => undefined);
      if (!now || !sameFile(now, key)) return debug('%s changed while it was hashed: not recorded', snap);
      if (racy(key.ctimeNs, key.takenNs))
        return debug('%s changed less than %d s before it was hashed: not recorded', snap, Number(RACY_WINDOW_NS / 1_000_000_000n));
      const { takenNs, ...identity } = key;
      entries.set(path.resolve(snap), { ...identity, verifiedAtNs: takenNs, 'sha3-384': sha3 });
      // Builds copy two entries at once: one save at a time, each of the whole map.
      const saved = saving.then(() => save(file, entries));
      saving = saved.then(() => undefined);
      if (!(await saved)) return;
      counts.recorded++;
      debug('%s: sha3-384 recorded', snap);
    },
  };
}

function racy(ctimeNs: string, verifiedAtNs: string): boolean {
  return BigInt(verifiedAtNs) - BigInt(ctimeNs) < RACY_WINDOW_NS;
}

async function load(file: string): Promise<Map<string, Entry>> {
  const entries = new Map<string, Entry>();
  let value: unknown;
  try {
    value = JSON.parse(await readFile(file, 'utf8'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') debug('%s ignored: %s', file, String(err));
    return entries;
  }
  const { version, files } = (typeof value === 'object' && value !== null ? value : {}) as { version?: unknown; files?: unknown };
  if (version !== VERSION || typeof files !== 'object' || files === null) {
    debug('%s ignored: not a version %d cache', file, VERSION);
    return entries;
  }
  for (const [name, e] of Object.entries(files as Record<string, unknown>)) if (isEntry(e)) entries.set(name, e);
  return entries;
}

const DECIMAL = /^\d{1,30}$/;

function isEntry(e: unknown): e is Entry {
  if (typeof e !== 'object' || e === null) return false;
  const r = e as Record<string, unknown>;
  const numbers = ['dev', 'ino', 'size', 'mtimeNs', 'ctimeNs', 'verifiedAtNs'].every((k) => typeof r[k] === 'string' && DECIMAL.test(r[k]));
  return numbers && typeof r['sha3-384'] === 'string' && /^[A-Za-z0-9_-]{64}$/.test(r['sha3-384']);
}

async function save(file: string, entries: Map<string, Entry>): Promise<boolean> {
  try {
    await mkdir(path.dirname(file), { recursive: true });
    const files = Object.fromEntries([...entries].sort(([a], [b]) => (a < b ? -1 : 1)));
    await writeFileAtomic(file, `${JSON.stringify({ version: VERSION, files }, null, 2)}\n`);
    return true;
  } catch (err) {
    debug('%s not written: %s', file, String(err));
    return false;
  }
}
