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
import { testPause } from '../test-hooks.ts';
import type { Change, Node, Step } from '../types.ts';

const BOOTSTRAP_CONFIG = `${STATE_DIR}/bootstrap.yaml`;
const POLL_MS = Number(process.env.AIRGAP_READY_POLL_MS ?? 5000);

export const cluster: Step = {
  id: 'cluster',
  describe: () => 'bootstrap a cluster (cluster.bootstrap) or join one (--join-token), then wait for the node to be Ready',
  skip(node) {
    return clusterIntent(node) ? undefined : 'the bundle has no cluster.bootstrap and no --join-token was given';
  },
  async check(node) {
    const intent = clusterIntent(node);
    // Any answer but "not a member" that k8s gives fails here: never a reason to bootstrap or join.
    const m = await k8sMembership(node.k8s);
    if (!m.member) {
      return [
        intent === 'join' ? { action: 'join', target: 'cluster', why: `${m.why}; --join-token given` } : { action: 'bootstrap', target: 'cluster', why: `${m.why}; the bundle sets cluster.bootstrap` },
        { action: 'wait-ready', target: node.nodeName, why: 'after joining' },
      ];
    }
    const changes: Change[] = [];
    // A run killed after `k8s bootstrap`/`join-cluster` returned but before the state save: the
    // node is in the cluster and the state does not say so yet.
    if (!node.state.value.cluster) changes.push({ action: 'record', target: 'cluster', why: `a ${m.role} member the state does not record (an earlier run stopped before saving)` });
    const r = await nodeReadiness(node.k8s, bundleRelease(node.bundle.manifest), m);
    if (!r.ready) changes.push({ action: 'wait-ready', target: m.name, why: `not Ready: ${r.detail} (${r.check})` });
    return changes;
  },
  async apply(node, changes) {
    for (const c of changes) {
      if (c.action === 'bootstrap' || c.action === 'join') await enter(node, c.action);
      if (c.action === 'record') await record(node, clusterIntent(node) === 'join' ? 'joined' : 'bootstrapped');
      if (c.action === 'wait-ready') await waitReady(node);
    }
  },
};

/** Bootstrap or join, with the node's address and a k8s --timeout as long as --wait-timeout. */
async function enter(node: Node, how: 'bootstrap' | 'join'): Promise<void> {
  const address = await nodeAddress({ flag: node.addressFlag, spec: node.bundle.manifest.spec });
  const call = { k8s: node.k8s, address, timeoutMs: node.waitTimeoutMs };
  const at = address ? ` advertising ${address}` : '';
  if (how === 'join') {
    node.progress(`  joining the cluster as ${node.nodeName}${at}`);
    await k8sJoin({ ...call, token: node.joinToken! });
  } else {
    const entry = node.bundle.manifest.bootstrapConfig;
    let file: string | undefined;
    if (entry) {
      await writeOwned(node, { abs: BOOTSTRAP_CONFIG, data: await readEntry(node.bundle, entry), mode: 0o600, step: 'cluster' });
      file = nodePath(node.root, BOOTSTRAP_CONFIG);
    }
    node.progress(`  bootstrapping ${node.nodeName}${at}${file ? ` with ${file}` : ''}`);
    await k8sBootstrap({ ...call, file });
  }
  await testPause('cluster:done');
  await record(node, how === 'join' ? 'joined' : 'bootstrapped');
}

async function record(node: Node, how: 'joined' | 'bootstrapped'): Promise<void> {
  node.state.value.cluster = how;
  await node.state.save();
}

async function waitReady(node: Node): Promise<void> {
  const start = Date.now();
  const limit = Math.round(node.waitTimeoutMs / 1000);
  for (;;) {
    const m: Membership = await k8sMembership(node.k8s);
    const r = m.member ? await nodeReadiness(node.k8s, bundleRelease(node.bundle.manifest), m) : { ready: false, check: `${node.k8s} local-node-status`, detail: m.why };
    const name = m.member ? m.name : node.nodeName;
    const waited = Math.round((Date.now() - start) / 1000);
    if (r.ready) {
      node.progress(`  node ${name} is Ready (${waited}s; ${r.check})`);
      return;
    }
    if (Date.now() - start >= node.waitTimeoutMs) {
      throw new AirgapError('STEP_FAILED', `node ${name} is not Ready after ${waited}s: ${r.detail} (checked with ${r.check})`, {
        hint: 'look at `snap services k8s` and `journalctl -u snap.k8s.kubelet`; re-run the applier to keep waiting (--wait-timeout SECONDS)',
      });
    }
    node.progress(`  waiting for node ${name} to be Ready (${waited}s of ${limit}s): ${r.detail}`);
    await sleep(POLL_MS);
  }
}
