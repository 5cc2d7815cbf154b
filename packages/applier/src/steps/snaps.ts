import { rm } from 'node:fs/promises';
import { extractEntry } from '../node/extract-entry.ts';
import { snapAck, snapInstall, snapRevision } from '../tools/snap.ts';
import type { Change, Step } from '../types.ts';

/** `snap ack` then `snap install`, in the bundle's order: snapd, the base, k8s (--classic), extras. */
export const snaps: Step = {
  id: 'snaps',
  describe: () => 'snapd, base and k8s snaps at the bundle revisions (ack, then install)',
  skip(node) {
    return node.bundle.manifest.snaps.length === 0 ? 'the bundle has no snaps' : undefined;
  },
  async check(node) {
    const changes: Change[] = [];
    for (const s of node.bundle.manifest.snaps) {
      const installed = await snapRevision(s.name);
      if (installed === s.revision) continue;
      changes.push({
        action: installed === undefined ? 'install' : 'refresh',
        target: `${s.name}=${s.revision}`,
        why: installed === undefined ? 'not installed' : `revision ${installed} installed`,
      });
    }
    return changes;
  },
  async apply(node, changes) {
    for (const c of changes) {
      const s = node.bundle.manifest.snaps.find((x) => `${x.name}=${x.revision}` === c.target)!;
      const assertFile = await extractEntry(node, s.assertPath);
      const snapFile = await extractEntry(node, s.snapPath);
      await snapAck(assertFile);
      await snapInstall(snapFile, { classic: s.classic });
      node.state.value.snaps[s.name] = s.revision;
      await node.state.save();
      await rm(snapFile, { force: true });
      await rm(assertFile, { force: true });
      node.progress(`  installed ${s.name} revision ${s.revision}`);
    }
  },
};
