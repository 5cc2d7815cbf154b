import { setTimeout as sleep } from 'node:timers/promises';
import { AirgapError, readEntry } from '@airgap/core';
import { clusterIntent } from '../node/cluster-intent.ts';
import { STATE_DIR } from '../state/state-store.ts';
import { writeOwned } from '../state/owned-files.ts';
import { nodePath } from '../node/node-path.ts';
import { k8sBootstrap, k8sInCluster, k8sJoin, k8sNodeReady } from '../tools/k8s.ts';
import { testPause } from '../test-hooks.ts';
import type { Change, Node, Step } from '../types.ts';

const BOOTSTRAP_CONFIG = `${STATE_DIR}/bootstrap.yaml`;
const POLL_MS = Number(process.env.AIRGAP_READY_POLL_MS ?? 5000);

async function inCluster(): Promise<boolean> {
  return k8sInCluster().catch(() => false);
}

export const cluster: Step = {
  id: 'cluster',
  describe: () => 'bootstrap a cluster (cluster.bootstrap) or join one (--join-token), then wait for the node to be Ready',
  skip(node) {
    return clusterIntent(node) ? undefined : 'the bundle has no cluster.bootstrap and no --join-token was given';
  },
  async check(node) {
    const intent = clusterIntent(node);
    if (!(await inCluster())) {
      return [
        intent === 'join' ? { action: 'join', target: 'cluster', why: 'not in a cluster; --join-token given' } : { action: 'bootstrap', target: 'cluster', why: 'not in a cluster; the bundle sets cluster.bootstrap' },
        { action: 'wait-ready', target: node.nodeName, why: 'after joining' },
      ];
    }
    const changes: Change[] = [];
    // A run killed after `k8s bootstrap`/`join-cluster` returned but before the state save: the
    // node is in the cluster and the state does not say so yet.
    if (!node.state.value.cluster) changes.push({ action: 'record', target: 'cluster', why: 'in a cluster the state does not record (an earlier run stopped before saving)' });
    const ready = await k8sNodeReady(node.nodeName);
    if (ready !== 'True') changes.push({ action: 'wait-ready', target: node.nodeName, why: `node Ready is ${ready ?? 'not reported yet'}` });
    return changes;
  },
  async apply(node, changes) {
    const intent = clusterIntent(node);
    for (const c of changes) {
      if (c.action === 'bootstrap') await bootstrap(node);
      if (c.action === 'join') {
        node.progress('  joining the cluster');
        await k8sJoin(node.joinToken!);
        await testPause('cluster:done');
        node.state.value.cluster = 'joined';
        await node.state.save();
      }
      if (c.action === 'record') {
        node.state.value.cluster = intent === 'join' ? 'joined' : 'bootstrapped';
        await node.state.save();
      }
      if (c.action === 'wait-ready') await waitReady(node);
    }
  },
};

async function bootstrap(node: Node): Promise<void> {
  const entry = node.bundle.manifest.bootstrapConfig;
  let file: string | undefined;
  if (entry) {
    await writeOwned(node, { abs: BOOTSTRAP_CONFIG, data: await readEntry(node.bundle, entry), mode: 0o600, step: 'cluster' });
    file = nodePath(node.root, BOOTSTRAP_CONFIG);
  }
  node.progress(`  bootstrapping${file ? ` with ${file}` : ''}`);
  await k8sBootstrap({ file });
  await testPause('cluster:done');
  node.state.value.cluster = 'bootstrapped';
  await node.state.save();
}

async function waitReady(node: Node): Promise<void> {
  const start = Date.now();
  for (;;) {
    const ready = await k8sNodeReady(node.nodeName);
    const waited = Math.round((Date.now() - start) / 1000);
    if (ready === 'True') {
      node.progress(`  node ${node.nodeName} is Ready (${waited}s)`);
      return;
    }
    if (Date.now() - start >= node.waitTimeoutMs) {
      throw new AirgapError('STEP_FAILED', `node ${node.nodeName} is not Ready after ${waited}s (Ready: ${ready ?? 'not registered'})`, {
        hint: 'look at `k8s status` and `journalctl -u snap.k8s.kubelet`; re-run the applier to keep waiting (--wait-timeout SECONDS)',
      });
    }
    node.progress(`  waiting for node ${node.nodeName} to be Ready (${waited}s of ${Math.round(node.waitTimeoutMs / 1000)}s; Ready: ${ready ?? 'not registered'})`);
    await sleep(POLL_MS);
  }
}
