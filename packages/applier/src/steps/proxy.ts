import { mkdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '@airgap/core';
import { nodePath } from '../node/node-path.ts';
import { currentSha256, ownedBy, removeOwned, removeStaleTemps, sha256Of, writeOwned } from '../state/owned-files.ts';
import { daemonReload } from '../tools/systemctl.ts';
import type { Change, Node, Step } from '../types.ts';
import { dropInText, proxyVariables, renderEnvironment } from './proxy-env.ts';

const ENVIRONMENT = '/etc/environment';
/** containerd of the k8s snap takes its proxy from this drop-in (ERRATA: Proxy). */
const DROP_IN = '/etc/systemd/system/snap.k8s.containerd.service.d/http-proxy.conf';

async function readEnvironment(node: Node): Promise<string> {
  return readFile(nodePath(node.root, ENVIRONMENT), 'utf8').catch(() => '');
}

export const proxy: Step = {
  id: 'proxy',
  describe: () => '/etc/environment proxy keys and the containerd systemd drop-in',
  skip(node) {
    const nothingOwned = node.state.value.envKeys.length === 0 && ownedBy(node, 'proxy').length === 0;
    return proxyVariables(node.bundle.manifest.spec).length === 0 && nothingOwned ? 'the bundle sets no proxy' : undefined;
  },
  async check(node) {
    const vars = proxyVariables(node.bundle.manifest.spec);
    const changes: Change[] = [];
    const env = await readEnvironment(node);
    if (renderEnvironment(env, vars, node.state.value.envKeys) !== env) changes.push({ action: 'write', target: ENVIRONMENT, why: vars.length ? 'proxy keys missing or different' : 'proxy keys no longer in the bundle' });
    const have = await currentSha256(node, DROP_IN);
    if (vars.length === 0) {
      if (ownedBy(node, 'proxy').includes(DROP_IN)) changes.push({ action: 'remove', target: DROP_IN, why: 'the bundle no longer sets a proxy' });
    } else if (have !== sha256Of(dropInText(vars))) {
      changes.push({ action: 'write', target: DROP_IN, why: have ? 'differs from the bundle' : 'missing' });
    }
    return changes;
  },
  async apply(node, changes) {
    const vars = proxyVariables(node.bundle.manifest.spec);
    // Before any write: a crash after it still leads the next run to restart k8s.
    node.state.value.restartPending = true;
    await node.state.save();
    for (const c of changes) {
      if (c.target === ENVIRONMENT) {
        const file = nodePath(node.root, ENVIRONMENT);
        const mode = await stat(file).then((s) => s.mode & 0o7777, () => 0o644);
        node.state.value.envKeys = [...new Set([...node.state.value.envKeys, ...vars.map(([k]) => k)])];
        await node.state.save();
        await mkdir(path.dirname(file), { recursive: true, mode: 0o755 });
        await removeStaleTemps(file);
        await writeFileAtomic(file, renderEnvironment(await readEnvironment(node), vars, node.state.value.envKeys), { mode });
        node.state.value.envKeys = vars.map(([k]) => k);
        await node.state.save();
      } else if (c.action === 'write') {
        await writeOwned(node, { abs: DROP_IN, data: dropInText(vars), mode: 0o644, step: 'proxy' });
      } else if (c.action === 'remove') {
        await removeOwned(node, c.target);
      }
    }
    await daemonReload();
  },
};
