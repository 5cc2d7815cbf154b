import { createHash } from 'node:crypto';
import path from 'node:path';
import { AirgapError, readEntry, type BundleChart } from '@airgap/core';
import { clusterIntent } from '../node/cluster-intent.ts';
import { nodePath } from '../node/node-path.ts';
import { writeOwned } from '../state/owned-files.ts';
import { STATE_DIR } from '../state/state-store.ts';
import { k8sMembership } from '../tools/k8s.ts';
import { helmReleases, helmUpgradeInstall, kubectlApply, type HelmRelease } from '../tools/k8s-workloads.ts';
import type { NodeFacts, StepContext } from '../types.ts';
import { defineStep, unreachable } from './define-step.ts';

const ID = 'workloads';
/** Where the charts, values and manifests land on the node, for helm and kubectl to read. */
const DIR = `${STATE_DIR}/workloads`;

export type WorkloadsChange = { kind: 'install'; chart: BundleChart; why: string } | { kind: 'apply'; files: string[]; digest: string; why: string };

/** Not a member yet (the run bootstraps first), or a control plane and its releases. */
type Seen = { member: false } | { member: true; worker: true } | { member: true; releases: HelmRelease[] };

export const workloads = defineStep({
  id: ID,
  describe: 'install the bundle’s Helm charts (k8s helm upgrade --install) and apply its manifests (k8s kubectl apply --server-side), from one control plane',
  skip: ({ node, state }) => {
    const w = node.bundle.manifest.workloads;
    if (!w || (w.charts.length === 0 && w.manifests.length === 0)) return 'the bundle has no workloads';
    if (node.workloads === false) return '--no-workloads: a later run deploys them';
    // The node that bootstraps (this run or an earlier one) deploys them, or the one given --workloads.
    const bootstraps = state.cluster === 'bootstrapped' || (state.cluster === undefined && clusterIntent(node) === 'bootstrap');
    if (!node.workloads && !bootstraps) return 'deployed from the node that bootstrapped the cluster, or the one given --workloads';
    return undefined;
  },
  async read({ node }): Promise<Seen> {
    const m = await k8sMembership(node.k8s);
    if (!m.member) return { member: false };
    // k8s-cli-contract.md, `k8s helm …` row: refused on workers on every release
    // (cmd/k8s/k8s_helm.go:35-38). The role is checked before any helm call.
    if (m.role !== 'control-plane' && !node.workloads) return { member: true, worker: true };
    if (m.role !== 'control-plane')
      throw new AirgapError('NODE_INVALID', `${m.name} is a ${m.role} node: k8s refuses helm there ("k8s helm commands are not allowed on worker nodes")`, {
        hint: 'run the applier with --workloads on a control-plane node (or let the node that bootstraps deploy them)',
      });
    return { member: true, releases: await helmReleases(node.k8s) };
  },
  check({ node, state }, seen): WorkloadsChange[] {
    const w = node.bundle.manifest.workloads!;
    const changes: WorkloadsChange[] = [];
    // A worker whose state says it bootstraps (a state file lost after it joined): never helm there.
    if ('worker' in seen) return changes;
    for (const c of w.charts) {
      const had = state.workloads?.charts[c.name];
      const release = 'releases' in seen ? seen.releases.find((r) => r.name === c.name && r.namespace === c.namespace) : undefined;
      const why = !seen.member
        ? 'once the cluster is up'
        : !release
          ? `release ${c.name} is not in namespace ${c.namespace}`
          : release.status !== 'deployed'
            ? `release ${c.name} is ${release.status}`
            : !had || had.digest !== c.digest
              ? `chart ${c.version} (${c.digest.slice(7, 19)}) is not the one installed`
              : had.valuesDigest !== c.valuesDigest
                ? 'its values changed'
                : undefined;
      if (why) changes.push({ kind: 'install', chart: c, why });
    }
    if (w.manifests.length > 0) {
      const digest = manifestsDigest(node);
      if (state.workloads?.manifests !== digest)
        changes.push({ kind: 'apply', files: w.manifests, digest, why: state.workloads?.manifests ? 'the manifests changed' : 'not applied yet' });
    }
    return changes;
  },
  show: (c) =>
    c.kind === 'install'
      ? { action: 'helm upgrade --install', target: `${c.chart.namespace}/${c.chart.name} (${c.chart.version})` }
      : { action: 'kubectl apply --server-side', target: `${c.files.length} manifest file${c.files.length === 1 ? '' : 's'}` },
  async apply(ctx, changes) {
    for (const c of changes) {
      switch (c.kind) {
        case 'install':
          await install(ctx, c.chart);
          break;
        case 'apply':
          await applyManifests(ctx, c.files, c.digest);
          break;
        default:
          unreachable(c);
      }
    }
  },
});

async function install(ctx: StepContext, c: BundleChart): Promise<void> {
  const chartFile = `${DIR}/charts/${path.posix.basename(c.path)}`;
  await writeOwned(ctx, { abs: chartFile, data: await readEntry(ctx.node.bundle, c.path), mode: 0o600, step: ID });
  const values: string[] = [];
  for (const [i, entry] of c.values.entries()) {
    const abs = `${DIR}/values/${c.name}/${i}.yaml`;
    await writeOwned(ctx, { abs, data: await readEntry(ctx.node.bundle, entry), mode: 0o600, step: ID });
    values.push(nodePath(ctx.node.root, abs));
  }
  ctx.progress(`  helm upgrade --install ${c.name} (${c.version}) in namespace ${c.namespace}`);
  await helmUpgradeInstall({
    k8s: ctx.node.k8s,
    release: c.name,
    chartFile: nodePath(ctx.node.root, chartFile),
    values,
    namespace: c.namespace,
    createNamespace: c.createNamespace,
    timeoutMs: ctx.node.waitTimeoutMs,
  });
  await ctx.record.chartInstalled(c.name, { namespace: c.namespace, version: c.version, digest: c.digest, valuesDigest: c.valuesDigest });
}

async function applyManifests(ctx: StepContext, files: readonly string[], digest: string): Promise<void> {
  const paths: string[] = [];
  for (const entry of files) {
    const abs = `${DIR}/manifests/${path.posix.basename(entry)}`;
    await writeOwned(ctx, { abs, data: await readEntry(ctx.node.bundle, entry), mode: 0o600, step: ID });
    paths.push(nodePath(ctx.node.root, abs));
  }
  ctx.progress(`  kubectl apply --server-side of ${paths.length} manifest file${paths.length === 1 ? '' : 's'}`);
  await kubectlApply(ctx.node.k8s, paths);
  await ctx.record.manifestsApplied(digest);
}

/** The manifests as the bundle signs them: their entries' sha256, in order. */
function manifestsDigest(node: NodeFacts): string {
  const h = createHash('sha256');
  for (const entry of node.bundle.manifest.workloads?.manifests ?? []) {
    const e = node.bundle.manifest.entries.find((x) => x.path === entry);
    h.update(`${entry} ${e?.sha256 ?? 'missing'}\n`);
  }
  return `sha256:${h.digest('hex')}`;
}
