import { formatBytes, omittedFromNode, type BundleBase, type OmittedEntry } from '@airgap/core';
import { blobClosure, imageDescriptors } from '../images/image-closure.ts';
import { nodeArch } from '../node/arch.ts';
import { isSocket } from '../node/path-exists.ts';
import { readHistory } from '../state/history.ts';
import { loadState } from '../state/state-store.ts';
import { ctrContentDigests } from '../tools/ctr.ts';
import type { NodeFacts } from '../types.ts';

/**
 * What preflight reads of a delta bundle (docs/bundle-format.md, "Delta bundles"): whether the
 * entries it leaves out can be had, from `--base` or from the node. A node has them when it applied
 * the base (state.json's last bundle, or an `ok` line of history.jsonl names its digest, or this
 * very delta's, applied before with --base), every
 * omitted snap is installed at the bundle's revision, and containerd's content store holds every
 * omitted image blob of the node's platform (`ctr images import` takes what the tar lacks from
 * there; test/applier/delta.test.ts). Other platforms' blobs are not needed, and containerd does not
 * keep them: an import without --all-platforms labels only the children its platform filter lets
 * through (containerd v1.6.20 import.go: FilterPlatforms under SetChildrenLabels), so the rest is
 * unreferenced once the import's lease goes, and deleting a lease marks the store dirty
 * (metadata/leases.go Delete), which schedules a collection at once (gc/scheduler/scheduler.go:
 * deletion_threshold 0 and schedule_delay 0 by default). test/applier/delta-platforms.test.ts.
 */
export type DeltaSeen =
  | { base: BundleBase; from: 'base-file' }
  | {
      base: BundleBase;
      from: 'node';
      appliedBase: boolean;
      /** Omitted snap files whose snap is not installed at the bundle's revision. */
      snapsMissing: OmittedEntry[];
      /** Omitted image blobs of the node's platform not in containerd's content store; undefined when containerd is not running (side-load: checked when it imports). */
      blobsMissing: OmittedEntry[] | undefined;
    };

export async function readDelta(node: NodeFacts, installed: Record<string, number | undefined>): Promise<DeltaSeen | undefined> {
  const m = node.bundle.manifest;
  if (!m.base) return undefined;
  if (node.bundle.base) return { base: m.base, from: 'base-file' };
  const omitted = omittedFromNode(node.bundle);
  const { value } = await loadState(node.root, { dryRun: true });
  const applied = new Set([value.bundle?.digest, ...(await readHistory(node.root)).filter((h) => h.result === 'ok').map((h) => h.bundle.digest)]);
  const snapFiles = new Map(m.snaps.map((s) => [s.snapPath, s]));
  const snapsMissing = omitted.filter((e) => {
    const s = snapFiles.get(e.path);
    return s !== undefined && installed[s.name] !== s.revision;
  });
  let blobs = omitted.filter((e) => !snapFiles.has(e.path));
  let blobsMissing: OmittedEntry[] | undefined;
  if (blobs.length > 0 && (await isSocket(node.containerdAddress))) {
    const needed = new Set(await blobClosure(node.bundle, await imageDescriptors(node.bundle, m.images), nodeArch()));
    blobs = blobs.filter((e) => needed.has(e.path));
    const have = await ctrContentDigests({ ctr: node.ctrPath, address: node.containerdAddress });
    blobsMissing = blobs.filter((e) => !have.has(`sha256:${e.sha256}`));
  } else blobsMissing = blobs.length > 0 ? undefined : [];
  // This very delta, applied before (with --base), left the node holding what it leaves out, too.
  const appliedBase = applied.has(m.base.digest) || applied.has(`sha256:${node.bundle.digest}`);
  return { base: m.base, from: 'node', appliedBase, snapsMissing, blobsMissing };
}

export interface DeltaProblem {
  about: string;
  why: string;
  hint: string;
}

/** Pure: why the delta cannot be applied here without --base (nothing when it can). */
export function deltaProblems(seen: DeltaSeen | undefined): DeltaProblem[] {
  if (!seen || seen.from === 'base-file') return [];
  const b = seen.base;
  const named = `${b.name}${b.sequence !== undefined ? ` #${b.sequence}` : ''} ${b.digest}`;
  const hint = `pass --base with the base bundle ${named} (its file, first part or folder), or apply that bundle first`;
  if (!seen.appliedBase) {
    const bytes = formatBytes(b.omitted.reduce((n, e) => n + e.size, 0));
    return [
      { about: 'delta base', why: `this is a delta of ${named}, which this node has not applied: it leaves out ${b.omitted.length} entries (${bytes})`, hint },
    ];
  }
  const out: DeltaProblem[] = [];
  if (seen.snapsMissing.length > 0)
    out.push({
      about: 'delta base',
      why: `the delta leaves out ${seen.snapsMissing.map((e) => e.path).join(', ')}, which this node does not have installed at that revision`,
      hint,
    });
  if (seen.blobsMissing && seen.blobsMissing.length > 0) {
    const shown = seen.blobsMissing.slice(0, 3).map((e) => `sha256:${e.sha256}`);
    const more = seen.blobsMissing.length > 3 ? ` and ${seen.blobsMissing.length - 3} more` : '';
    out.push({
      about: 'delta base',
      why: `the delta leaves out image blobs containerd no longer has: ${shown.join(', ')}${more} (removed since ${named} was applied)`,
      hint,
    });
  }
  return out;
}
