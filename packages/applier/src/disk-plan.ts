import { stat } from 'node:fs/promises';
import path from 'node:path';
import { formatBytes, type BundleImage } from '@airgap/core';
import { imagesDiskUse, UNPACK_FACTOR, type ImagesDiskUse } from './images/image-disk-use.ts';
import { fileSystemOf, type FileSystemSeen } from './node/disk-space.ts';
import { nodeArch } from './node/arch.ts';
import { nodePath } from './node/node-path.ts';
import { loadState, STATE_DIR, STATE_FILE, type AirgapState } from './state/state-store.ts';
import { containerdHosts } from './steps/containerd-hosts.ts';
import { defaultRoute } from './steps/default-route.ts';
import type { DefinedStep } from './steps/define-step.ts';
import { images, SIDE_LOAD_DIR, type ImageChange } from './steps/images.ts';
import { proxy } from './steps/proxy.ts';
import { snaps, type SnapChange } from './steps/snaps.ts';
import type { NodeFacts, StepChange, StepView } from './types.ts';

/** Something the apply will write: `bytes` at the node path `path`, and why. */
export interface DiskNeed {
  path: string;
  bytes: number;
  why: string;
  /**
   * Gone again once its group is done (the copies of one snap during its install, named by the
   * snap): per file system the largest group counts, with the lasting needs.
   */
  temp?: string;
}

/** One file system the apply writes to: what it needs there and what is free (a row of `plan`). */
export interface DiskUse {
  /** Node path of the mount point. */
  mount: string;
  /** The node paths written on it. */
  paths: string[];
  needBytes: number;
  freeBytes: number;
  needs: DiskNeed[];
}

const BLOCK = 4096;
/** A small file (environment, a drop-in, a unit) as a file system stores it: one block. */
const SMALL_FILE = BLOCK;
const blocks = (n: number) => Math.ceil(n / BLOCK) * BLOCK;

/**
 * What this apply would write on each file system, from the steps' own checks (only what is
 * missing: images containerd has, snaps installed at the bundle's revision, files that match
 * are left out), grouped by file system and set against its free space. Reads, never writes.
 */
export async function readDiskUse(node: NodeFacts): Promise<DiskUse[]> {
  const { value: state } = await loadState(node.root, { dryRun: true });
  return groupByFileSystem(node.root, await diskNeeds(node, state));
}

export async function diskNeeds(node: NodeFacts, state: Readonly<AirgapState>): Promise<DiskNeed[]> {
  const view: StepView = { node, state, changed: new Set() };
  const needs: DiskNeed[] = [];
  const m = node.bundle.manifest;
  const sizeOf = (entry: string) => m.entries.find((e) => e.path === entry)?.size ?? 0;

  // A snap that fails to read (snapd away) counts as to be installed: preflight refuses that anyway.
  const snapChanges = await changesOf(snaps, view).catch((): SnapChange[] =>
    m.snaps.map((s) => ({ kind: 'install', name: s.name, revision: s.revision, why: 'unknown' })),
  );
  for (const c of snapChanges) {
    if (c.kind === 'record') continue;
    const s = m.snaps.find((x) => x.name === c.name)!;
    const size = blocks(sizeOf(s.snapPath));
    // extractEntry copies the snap and its assertion to the scratch folder, removed after the install.
    needs.push({ path: `${STATE_DIR}/tmp`, bytes: size + blocks(sizeOf(s.assertPath)), why: `${s.name} copied for snap install`, temp: s.name });
    // snapd keeps the blob as /var/lib/snapd/snaps/<name>_<rev>.snap (mounted read-only at
    // /snap/<name>/<rev>: the mount itself takes no space), and a refresh keeps the old revision.
    needs.push({ path: '/var/lib/snapd/snaps', bytes: size, why: `${s.name}_${s.revision}.snap` });
    // The CLI uploads a local snap to snapd, which writes it to a temp file in the same folder
    // first (snapd daemon/api_sideload_n_try.go, writeToTempFile in dirs.SnapBlobDir).
    needs.push({ path: '/var/lib/snapd/snaps', bytes: size, why: `snapd's upload copy of ${s.name}`, temp: s.name });
  }

  for (const c of await changesOf(containerdHosts, view))
    if (c.kind === 'write') needs.push({ path: c.abs, bytes: blocks(sizeOf(c.entry)), why: path.posix.basename(c.abs) });
  for (const c of await changesOf(proxy, view)) {
    if (c.kind === 'write-environment') needs.push({ path: '/etc/environment', bytes: SMALL_FILE, why: 'proxy keys' });
    if (c.kind === 'write-drop-in') needs.push({ path: '/etc/systemd/system', bytes: SMALL_FILE, why: "containerd's proxy drop-in" });
  }
  for (const c of await changesOf(defaultRoute, view))
    if (c.kind === 'write-unit') needs.push({ path: '/etc/systemd/system', bytes: SMALL_FILE, why: 'default-route unit' });

  needs.push(...(await imageNeeds(node, view)));

  // state.json is rewritten through a temp name as the run goes (it grows by an entry per file or
  // image), and the history gets a line.
  const stateBytes = await stat(nodePath(node.root, STATE_FILE)).then(
    (s) => s.size,
    () => 0,
  );
  needs.push({ path: STATE_DIR, bytes: blocks(stateBytes + 512 * (needs.length + 8)) + BLOCK, why: 'state.json (temp + rename) and a history line' });
  return needs;
}

async function imageNeeds(node: NodeFacts, view: StepView): Promise<DiskNeed[]> {
  const all = node.bundle.manifest.images;
  // containerd unreadable: every image counts as to be imported.
  const changes = await changesOf(images, view).catch((): ImageChange[] => all.map((i) => ({ kind: 'import', ref: i.ref, why: 'unknown' })));
  const wanted = new Set(changes.flatMap((c) => (c.kind === 'import' || c.kind === 'side-load' ? [c.ref] : [])));
  const list: BundleImage[] = all.filter((i) => wanted.has(i.ref));
  if (list.length === 0) return [];
  const use = await imagesDiskUse(node.bundle, list, nodeArch()).catch(() => roughImagesDiskUse(node, list));
  const root = path.posix.join(node.containerd.base, 'var/lib/containerd');
  const sideLoaded = changes.some((c) => c.kind === 'side-load');
  const when = sideLoaded ? ' when containerd starts' : '';
  const estimated = use.estimatedLayers > 0 ? `, ${use.estimatedLayers} layer(s) estimated` : '';
  const needs: DiskNeed[] = [
    { path: `${root}/io.containerd.content.v1.content`, bytes: use.contentBytes, why: `${list.length} image(s): compressed blobs${when}` },
    { path: `${root}/io.containerd.snapshotter.v1.overlayfs`, bytes: use.unpackedBytes, why: `${list.length} image(s): unpacked layers${when}${estimated}` },
  ];
  for (const c of changes)
    if (c.kind === 'side-load') needs.push({ path: SIDE_LOAD_DIR, bytes: blocks(use.tarBytes.get(c.ref) ?? 0), why: `side-load tar of ${c.ref}` });
  return needs;
}

/**
 * When the image graph cannot be walked in this bundle (a delta bundle leaves blobs the node or
 * its base has out; a broken one is refused by the images step itself): every image blob the
 * bundle carries, unpacked at UNPACK_FACTOR.
 */
function roughImagesDiskUse(node: NodeFacts, list: readonly BundleImage[]): ImagesDiskUse {
  const layout = node.bundle.manifest.imageLayout;
  const blobs = node.bundle.manifest.entries.filter((e) => layout !== undefined && e.path.startsWith(`${layout}/blobs/`));
  const contentBytes = blobs.reduce((n, e) => n + blocks(e.size), 0);
  const tar = 4096 + blobs.reduce((n, e) => n + 512 + Math.ceil(e.size / 512) * 512, 0);
  return { contentBytes, unpackedBytes: contentBytes * UNPACK_FACTOR, estimatedLayers: blobs.length, tarBytes: new Map(list.map((i) => [i.ref, tar])) };
}

/** The step's own changes, as its plan decides them (skip, read, check): what it would do now. */
async function changesOf<C extends StepChange, S>(step: DefinedStep<string, C, S>, view: StepView): Promise<C[]> {
  const d = step.definition;
  if (d.skip?.(view) !== undefined) return [];
  return d.check(view, await d.read(view));
}

/** Needs grouped by the file system each lands on; per file system the lasting ones plus the largest group of temporaries. */
export async function groupByFileSystem(root: string, needs: readonly DiskNeed[]): Promise<DiskUse[]> {
  const cache = new Map<number, FileSystemSeen>();
  const rows = new Map<number, DiskUse>();
  for (const n of needs) {
    if (n.bytes <= 0) continue;
    const fs = await fileSystemOf(root, n.path, cache);
    const row = rows.get(fs.dev) ?? { mount: fs.mount, paths: [], needBytes: 0, freeBytes: fs.freeBytes, needs: [] };
    row.needs.push(n);
    if (!row.paths.includes(n.path)) row.paths.push(n.path);
    rows.set(fs.dev, row);
  }
  for (const row of rows.values()) {
    const lasting = row.needs.filter((n) => n.temp === undefined).reduce((s, n) => s + n.bytes, 0);
    // Both copies of one snap exist at once (ours in the scratch folder, snapd's upload): summed per snap.
    const groups = new Map<string, number>();
    for (const n of row.needs) if (n.temp !== undefined) groups.set(n.temp, (groups.get(n.temp) ?? 0) + n.bytes);
    row.needBytes = lasting + Math.max(0, ...groups.values());
    row.paths.sort();
  }
  return [...rows.values()].sort((a, b) => a.mount.localeCompare(b.mount));
}

/** A file system that cannot take what the apply writes there: its mount, the need, the free space, what to do. */
export function diskProblems(rows: readonly DiskUse[]): { about: string; why: string; hint: string }[] {
  return rows
    .filter((r) => r.needBytes > r.freeBytes)
    .map((r) => ({
      about: `disk ${r.mount}`,
      why: `not enough space on ${r.mount} (for ${r.paths.join(', ')}): the apply writes about ${formatBytes(r.needBytes)} there, ${formatBytes(r.freeBytes)} is free`,
      hint: `free ${formatBytes(r.needBytes - r.freeBytes)} or more on ${r.mount} (or make that file system larger); \`applier plan\` shows what goes where`,
    }));
}

/** The `plan` table: one line per file system, the short ones marked. */
export function formatDiskUse(rows: readonly DiskUse[]): string[] {
  if (rows.length === 0) return [];
  const w = Math.max(11, ...rows.map((r) => r.mount.length));
  const line = (fs: string, need: string, free: string, paths: string) => `         ${fs.padEnd(w)}  ${need.padStart(10)}  ${free.padStart(10)}  ${paths}`;
  return [
    line('file system', 'need', 'free', 'paths'),
    ...rows.map(
      (r) => line(r.mount, formatBytes(r.needBytes), formatBytes(r.freeBytes), r.paths.join(', ')) + (r.needBytes > r.freeBytes ? '  (too small)' : ''),
    ),
  ];
}
