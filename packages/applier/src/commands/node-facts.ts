import { stat } from 'node:fs/promises';
import { hostname } from 'node:os';
import { AirgapError, type VerifiedBundle } from '@airgap/core';
import { containerdPaths } from '../node/containerd-paths.ts';
import { cleanHostname } from '../node/node-name.ts';
import { nodePath } from '../node/node-path.ts';
import type { NodeFacts } from '../types.ts';
import type { CommonOptions } from './options.ts';

export type NodeFactOptions = Pick<CommonOptions, 'root' | 'joinToken' | 'ctr' | 'k8s' | 'address' | 'containerdAddress' | 'waitTimeoutMs'> &
  Partial<Pick<CommonOptions, 'allowDowngrade' | 'noPrune' | 'workloads'>>;

/** The node's fixed facts, read once: nothing a step does changes them within a run. */
export async function readNodeFacts(o: NodeFactOptions, bundle: VerifiedBundle): Promise<NodeFacts> {
  const root = await stat(o.root).catch(() => undefined);
  if (!root?.isDirectory())
    throw new AirgapError('USAGE', `--root ${o.root} is not a directory`, { hint: 'create it first, or leave --root out to apply to /' });
  const bootstraps = !o.joinToken && Boolean(bundle.manifest.spec.cluster?.bootstrap);
  const containerd = await containerdPaths({ root: o.root, manifest: bundle.manifest, bootstraps });
  return {
    root: o.root,
    bundle,
    containerdAddress: o.containerdAddress ?? nodePath(o.root, containerd.socket),
    containerd,
    ctrPath: o.ctr,
    k8s: o.k8s,
    joinToken: o.joinToken,
    addressFlag: o.address,
    nodeName: cleanHostname(hostname()),
    waitTimeoutMs: o.waitTimeoutMs,
    ...(o.allowDowngrade ? { allowDowngrade: true } : {}),
    ...(o.noPrune ? { noPrune: true } : {}),
    ...(o.workloads !== undefined ? { workloads: o.workloads } : {}),
  };
}
