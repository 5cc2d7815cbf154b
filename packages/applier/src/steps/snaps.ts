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
      if (installed === s.revision) {
        // Installed by a run that stopped before it could save the state file (full disk, kill).
        if (node.state.value.snaps[s.name] !== s.revision) changes.push({ action: 'record', target: `${s.name}=${s.revision}`, why: 'installed, not yet in the state file' });
        continue;
      }
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
      if (c.action !== 'record') {
        const assertFile = await extractEntry(node, s.assertPath);
        const snapFile = await extractEntry(node, s.snapPath);
        await snapAck(assertFile);
        await snapInstall(snapFile, { classic: s.classic });
        await rm(snapFile, { force: true });
        await rm(assertFile, { force: true });
        node.progress(`  installed ${s.name} revision ${s.revision}`);
      }
      node.state.value.snaps[s.name] = s.revision;
      await node.state.save();
    }
  },
};
