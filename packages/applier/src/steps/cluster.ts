import { setTimeout as sleep } from 'node:timers/promises';
import { AirgapError, readEntry } from '@airgap/core';
import { clusterIntent } from '../node/cluster-intent.ts';
import { bundleRelease } from '../node/k8s-release.ts';
import { nodeAddress } from '../node/node-address.ts';
import { nodePath } from '../node/node-path.ts';
import { nodeReadiness } from '../node/readiness.ts';
import { STATE_DIR } from '../state/state-store.ts';
import { writeOwned } from '../state/owned-files.ts';
import { k8sBootstrap, k8sJoin, k8sMembership, type Membership } from '../tools/k8s.ts';
import type { Readiness } from '../node/readiness.ts';
import type { StepContext } from '../types.ts';
import { defineStep, unreachable } from './define-step.ts';

const BOOTSTRAP_CONFIG = `${STATE_DIR}/bootstrap.yaml`;
const POLL_MS = Number(process.env.AIRGAP_READY_POLL_MS ?? 5000);

export type ClusterChange =
  | { kind: 'bootstrap'; why: string }
  | { kind: 'join'; why: string }
  /** A run killed after `k8s bootstrap`/`join-cluster` returned but before the state save: the node is in the cluster and the state does not say so yet. */
  | { kind: 'record'; how: 'bootstrapped' | 'joined'; why: string }
  | { kind: 'wait-ready'; name: string; why: string };

type Seen = { membership: Extract<Membership, { member: false }> } | { membership: Extract<Membership, { member: true }>; readiness: Readiness };

export const cluster = defineStep({
  id: 'cluster',
  describe: 'bootstrap a cluster (cluster.bootstrap) or join one (--join-token), then wait for the node to be Ready',
  skip: ({ node }) => (clusterIntent(node) ? undefined : 'the bundle has no cluster.bootstrap and no --join-token was given'),
  async read({ node }): Promise<Seen> {
    // Any answer but "not a member" that k8s gives fails here: never a reason to bootstrap or join.
    const membership = await k8sMembership(node.k8s);
    if (!membership.member) return { membership };
    return { membership, readiness: await nodeReadiness(node.k8s, bundleRelease(node.bundle.manifest), membership) };
  },
  check({ node, state }, seen): ClusterChange[] {
    const intent = clusterIntent(node);
    if (!('readiness' in seen)) {
      const why = seen.membership.why;
      return [
        intent === 'join' ? { kind: 'join', why: `${why}; --join-token given` } : { kind: 'bootstrap', why: `${why}; the bundle sets cluster.bootstrap` },
        { kind: 'wait-ready', name: node.nodeName, why: 'after joining' },
      ];
    }
    const { membership: m, readiness: r } = seen;
    const changes: ClusterChange[] = [];
    if (!state.cluster)
      changes.push({
        kind: 'record',
        how: intent === 'join' ? 'joined' : 'bootstrapped',
        why: `a ${m.role} member the state does not record (an earlier run stopped before saving)`,
      });
    if (!r.ready) changes.push({ kind: 'wait-ready', name: m.name, why: `not Ready: ${r.detail} (${r.check})` });
    return changes;
  },
  show: (c) => ({ action: c.kind, target: c.kind === 'wait-ready' ? c.name : 'cluster' }),
  async apply(ctx, changes) {
    for (const c of changes) {
      switch (c.kind) {
        case 'bootstrap':
        case 'join':
          await enter(ctx, c.kind);
          break;
        case 'record':
          await ctx.record.clusterEntered(c.how);
          break;
        case 'wait-ready':
          await waitReady(ctx);
          break;
        default:
          unreachable(c);
      }
    }
  },
});

/** Bootstrap or join, with the node's address and a k8s --timeout as long as --wait-timeout. */
async function enter(ctx: StepContext, how: 'bootstrap' | 'join'): Promise<void> {
  const { node } = ctx;
  const address = await nodeAddress({ flag: node.addressFlag, spec: node.bundle.manifest.spec });
  const call = { k8s: node.k8s, address, timeoutMs: node.waitTimeoutMs };
  const at = address ? ` advertising ${address}` : '';
  if (how === 'join') {
    ctx.progress(`  joining the cluster as ${node.nodeName}${at}`);
    await k8sJoin({ ...call, token: node.joinToken! });
  } else {
    const entry = node.bundle.manifest.bootstrapConfig;
    let file: string | undefined;
    if (entry) {
      await writeOwned(ctx, { abs: BOOTSTRAP_CONFIG, data: await readEntry(node.bundle, entry), mode: 0o600, step: 'cluster' });
      file = nodePath(node.root, BOOTSTRAP_CONFIG);
    }
    ctx.progress(`  bootstrapping ${node.nodeName}${at}${file ? ` with ${file}` : ''}`);
    await k8sBootstrap({ ...call, file });
  }
  await ctx.checkpoint('cluster:done');
  await ctx.record.clusterEntered(how === 'join' ? 'joined' : 'bootstrapped');
}

async function waitReady(ctx: StepContext): Promise<void> {
  const { node } = ctx;
  const start = Date.now();
  const limit = Math.round(node.waitTimeoutMs / 1000);
  for (;;) {
    const m: Membership = await k8sMembership(node.k8s);
    const r = m.member
      ? await nodeReadiness(node.k8s, bundleRelease(node.bundle.manifest), m)
      : { ready: false, check: `${node.k8s} local-node-status`, detail: m.why };
    const name = m.member ? m.name : node.nodeName;
    const waited = Math.round((Date.now() - start) / 1000);
    if (r.ready) {
      ctx.progress(`  node ${name} is Ready (${waited}s; ${r.check})`);
      return;
    }
    if (Date.now() - start >= node.waitTimeoutMs) {
      throw new AirgapError('STEP_FAILED', `node ${name} is not Ready after ${waited}s: ${r.detail} (checked with ${r.check})`, {
        hint: 'look at `snap services k8s` and `journalctl -u snap.k8s.kubelet`; re-run the applier to keep waiting (--wait-timeout SECONDS)',
      });
    }
    ctx.progress(`  waiting for node ${name} to be Ready (${waited}s of ${limit}s): ${r.detail}`);
    await sleep(POLL_MS);
  }
}
