import { open, readdir, rename, rm, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { AirgapError } from '../errors.ts';
import { removeStaleTemps, tempPathFor } from '../util/atomic-write.ts';
import { MAX_PARTS, partPath } from './bundle-parts.ts';
import type { PositionalWriter } from './copy-entry.ts';

/** Where the writer puts the bundle's bytes by position: one file, or parts of at most `split` bytes. */
export interface BundleOutput extends PositionalWriter {
  /** Every file on disk (fsynced), then renamed to its name; returns the names in order. */
  commit(): Promise<string[]>;
  /** Close and remove everything written so far. */
  abort(): Promise<void>;
}

interface Target {
  final: string;
  tmp: string;
  fh: FileHandle | undefined;
  /** Bytes written since the last early sync was started. */
  dirty: number;
  /** An early sync under way (see EARLY_SYNC). */
  syncing?: Promise<void>;
}

/**
 * Every this many bytes written to a file, its data is sent to disk in the background (fdatasync,
 * not awaited by the writer): the page cache otherwise holds the whole bundle until the final
 * fsync, which then writes it all while nothing else is left to do. Spread over the build, the
 * disk writes overlap the hashing, and the final fsync finds little left.
 */
const EARLY_SYNC = 128 * 1024 * 1024;

/**
 * Open the temp file(s) for a bundle of `size` bytes. Split, part i holds bytes
 * i·split … (i+1)·split − 1 of the very stream an unsplit build writes, so
 * `cat bundle.tar.*` is that file; no byte is written twice and nothing is joined in memory.
 */
export async function openBundleOutput(o: { out: string; size: number; split?: number }): Promise<BundleOutput> {
  // Unsplit: one part larger than any file.
  const split = o.split ?? Number.MAX_SAFE_INTEGER;
  const count = o.split === undefined ? 1 : Math.max(1, Math.ceil(o.size / o.split));
  if (count > MAX_PARTS) {
    throw new AirgapError('OUTPUT_INVALID', `--split ${o.split} would cut the ${o.size}-byte bundle into ${count} parts, more than ${MAX_PARTS}`, {
      hint: 'choose a larger part size, e.g. --split 4000M',
    });
  }
  const finals = o.split === undefined ? [o.out] : Array.from({ length: count }, (_, i) => partPath(o.out, i));
  const targets: Target[] = [];
  const abort = async () => {
    await Promise.allSettled(targets.flatMap((t) => (t.syncing ? [t.syncing] : [])));
    await Promise.all(targets.map(async (t) => t.fh?.close().catch(() => undefined)));
    await Promise.all(targets.map((t) => rm(t.tmp, { force: true })));
  };
  try {
    for (const final of finals) {
      await removeStaleTemps(final);
      const target: Target = { final, tmp: tempPathFor(final), fh: undefined, dirty: 0 };
      targets.push(target);
      target.fh = await open(target.tmp, 'wx', 0o644);
    }
  } catch (err) {
    await abort();
    throw err;
  }
  return {
    // One write never crosses a part boundary; writeAll asks again for the rest.
    async write(buffer, offset, length, position) {
      const index = Math.floor(position / split);
      const at = position - index * split;
      const n = Math.min(length, split - at);
      const target = targets[index];
      const fh = target?.fh;
      if (!target || !fh) throw new Error(`bundle byte ${position} is past the ${count} part(s) planned`);
      const written = await fh.write(buffer, offset, n, at);
      target.dirty += written.bytesWritten;
      if (target.dirty >= EARLY_SYNC && !target.syncing) {
        target.dirty = 0;
        // Only a head start: a failure here shows again in commit's own fsync.
        target.syncing = fh.datasync().then(
          () => (target.syncing = undefined),
          () => (target.syncing = undefined),
        );
      }
      return written;
    },
    async commit() {
      // On disk before they have their names: after a power loss the bundle is whole or absent.
      for (const t of targets) {
        await t.syncing;
        await t.fh!.sync();
        await t.fh!.close();
        t.fh = undefined;
      }
      const renamed: string[] = [];
      try {
        for (const t of targets) {
          await rename(t.tmp, t.final);
          renamed.push(t.final);
        }
        await syncDir(path.dirname(o.out));
      } catch (err) {
        await Promise.all(renamed.map((f) => rm(f, { force: true })));
        throw err;
      }
      if (o.split !== undefined) await removePartsFrom(o.out, count);
      return finals;
    },
    abort,
  };
}

/** Parts numbered `from` and up left by an earlier, larger build: `cat bundle.tar.*` must give this one. */
async function removePartsFrom(out: string, from: number): Promise<void> {
  const prefix = `${path.basename(out)}.`;
  for (const name of await readdir(path.dirname(out))) {
    const n = name.startsWith(prefix) ? name.slice(prefix.length) : '';
    if (/^\d{3}$/.test(n) && Number(n) >= from) await rm(path.join(path.dirname(out), name), { force: true });
  }
}

/** Make a rename durable (the directory entry); file systems that cannot fsync a directory are skipped. */
async function syncDir(dir: string): Promise<void> {
  const d = await open(dir, 'r').catch(() => undefined);
  try {
    await d?.sync();
  } catch {
    // EINVAL/EISDIR on some file systems: the rename is still atomic, only not yet durable.
  } finally {
    await d?.close();
  }
}
