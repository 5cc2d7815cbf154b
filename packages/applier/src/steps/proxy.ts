import { mkdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '@airgap/core';
import { nodePath } from '../node/node-path.ts';
import { currentSha256, ownedBy, removeOwned, removeStaleTemps, sha256Of, writeOwned } from '../state/owned-files.ts';
import { daemonReload } from '../tools/systemctl.ts';
import type { StepContext } from '../types.ts';
import { defineStep, unreachable } from './define-step.ts';
import { dropInText, proxyVariables, renderEnvironment } from './proxy-env.ts';

const ID = 'proxy';
const ENVIRONMENT = '/etc/environment';
/** containerd of the k8s snap takes its proxy from this drop-in (ERRATA: Proxy). */
const DROP_IN = '/etc/systemd/system/snap.k8s.containerd.service.d/http-proxy.conf';

export type ProxyChange = { kind: 'write-environment'; why: string } | { kind: 'write-drop-in'; why: string } | { kind: 'remove-drop-in'; why: string };

async function readEnvironment(root: string): Promise<string> {
  return readFile(nodePath(root, ENVIRONMENT), 'utf8').catch(() => '');
}

export const proxy = defineStep({
  id: ID,
  describe: '/etc/environment proxy keys and the containerd systemd drop-in',
  skip({ node, state }) {
    const nothingOwned = state.envKeys.length === 0 && ownedBy(state, ID).length === 0;
    return proxyVariables(node.bundle.manifest.spec).length === 0 && nothingOwned ? 'the bundle sets no proxy' : undefined;
  },
  async read({ node }) {
    return { environment: await readEnvironment(node.root), dropInSha256: await currentSha256(node.root, DROP_IN) };
  },
  check({ node, state }, seen) {
    const vars = proxyVariables(node.bundle.manifest.spec);
    const changes: ProxyChange[] = [];
    if (renderEnvironment(seen.environment, vars, state.envKeys) !== seen.environment) {
      changes.push({ kind: 'write-environment', why: vars.length ? 'proxy keys missing or different' : 'proxy keys no longer in the bundle' });
    }
    if (vars.length === 0) {
      if (ownedBy(state, ID).includes(DROP_IN)) changes.push({ kind: 'remove-drop-in', why: 'the bundle no longer sets a proxy' });
    } else if (seen.dropInSha256 !== sha256Of(dropInText(vars))) {
      changes.push({ kind: 'write-drop-in', why: seen.dropInSha256 ? 'differs from the bundle' : 'missing' });
    }
    return changes;
  },
  show(c) {
    switch (c.kind) {
      case 'write-environment':
        return { action: 'write', target: ENVIRONMENT };
      case 'write-drop-in':
        return { action: 'write', target: DROP_IN };
      case 'remove-drop-in':
        return { action: 'remove', target: DROP_IN };
      default:
        return unreachable(c);
    }
  },
  async apply(ctx, changes) {
    const vars = proxyVariables(ctx.node.bundle.manifest.spec);
    // Before any write: a crash after it still leads the next run to restart k8s.
    await ctx.record.restartPending(true);
    for (const c of changes) {
      switch (c.kind) {
        case 'write-environment':
          await writeEnvironment(ctx, vars);
          break;
        case 'write-drop-in':
          await writeOwned(ctx, { abs: DROP_IN, data: dropInText(vars), mode: 0o644, step: ID });
          break;
        case 'remove-drop-in':
          await removeOwned(ctx, DROP_IN);
          break;
        default:
          unreachable(c);
      }
    }
    await daemonReload();
  },
});

/** Keys are recorded as ours before the write (the union, so a kill mid-write forgets none), then exactly the bundle's. */
async function writeEnvironment(ctx: StepContext, vars: [string, string][]): Promise<void> {
  const file = nodePath(ctx.node.root, ENVIRONMENT);
  const mode = await stat(file).then(
    (s) => s.mode & 0o7777,
    () => 0o644,
  );
  await ctx.record.envKeys([...new Set([...ctx.state.envKeys, ...vars.map(([k]) => k)])]);
  await mkdir(path.dirname(file), { recursive: true, mode: 0o755 });
  await removeStaleTemps(file);
  await writeFileAtomic(file, renderEnvironment(await readEnvironment(ctx.node.root), vars, ctx.state.envKeys), { mode });
  await ctx.record.envKeys(vars.map(([k]) => k));
}
