import path from 'node:path';
import { AirgapError, loadTrustedKeys, TRUSTED_KEYS_DIR, verifyBundle, withBase, type VerifiedBundle } from '@airgap/core';
import { nodePath } from '../node/node-path.ts';
import { DEFAULT_CTR, DEFAULT_K8S } from '../defaults.ts';

export { DEFAULT_CTR };

export interface CommonOptions {
  bundle: string | undefined;
  pubs: string[];
  root: string;
  dryRun: boolean;
  json: boolean;
  joinToken: string | undefined;
  ctr: string;
  k8s: string;
  address: string | undefined;
  /** --containerd-address; otherwise the socket follows the node's containerd base. */
  containerdAddress: string | undefined;
  waitTimeoutMs: number;
  /** --allow-downgrade: an older or expired bundle, or a lower snap revision, is applied anyway. */
  allowDowngrade: boolean;
  /** --no-prune: images earlier bundles imported stay in containerd. */
  noPrune: boolean;
  /** --workloads: deploy the bundle's charts and manifests from this control plane; --no-workloads (false): not in this run. */
  workloads?: boolean;
  /** --base: the base bundle of a delta (file, first part or folder), read for the entries the delta leaves out. */
  base?: string | undefined;
}

/** The option values apply, plan and status take, as the CLI declares them (camel-cased by commander). */
export interface NodeOptionValues {
  pub?: string[];
  root?: string;
  json?: boolean;
  dryRun?: boolean;
  joinToken?: string;
  ctr?: string;
  k8s?: string;
  address?: string;
  containerdAddress?: string;
  waitTimeout?: string;
  allowDowngrade?: boolean;
  /** commander's value of --no-prune (false when given). */
  prune?: boolean;
  workloads?: boolean;
  base?: string;
}

/**
 * Checked option values with their defaults. `joinTokenFrom` says where the token came from:
 * AIRGAP_JOIN_TOKEN (which keeps it out of the process list, as `ps` shows arguments to every
 * user) or --join-token.
 */
export function commonOptions(bundle: string | undefined, values: NodeOptionValues, joinTokenFrom: 'env' | 'cli' = 'cli'): CommonOptions {
  const wait = Number(values.waitTimeout ?? 600);
  if (!Number.isFinite(wait) || wait < 0) throw new AirgapError('USAGE', '--wait-timeout takes seconds');
  const token = values.joinToken || undefined;
  if (token !== undefined && !/^[A-Za-z0-9+/=_.:-]+$/.test(token)) {
    const [code, what] = joinTokenFrom === 'env' ? (['ENV_INVALID', 'AIRGAP_JOIN_TOKEN'] as const) : (['USAGE', '--join-token'] as const);
    throw new AirgapError(code, `${what} does not look like a k8s join token`, { hint: 'copy it from `k8s get-join-token NAME` on a control-plane node' });
  }
  return {
    bundle,
    pubs: values.pub ?? [],
    root: path.resolve(values.root ?? '/'),
    dryRun: values.dryRun ?? false,
    json: values.json ?? false,
    joinToken: token,
    ctr: values.ctr ?? DEFAULT_CTR,
    k8s: values.k8s ?? DEFAULT_K8S,
    address: values.address,
    containerdAddress: values.containerdAddress,
    waitTimeoutMs: wait * 1000,
    allowDowngrade: values.allowDowngrade ?? false,
    noPrune: values.prune === false,
    ...(values.workloads !== undefined ? { workloads: values.workloads } : {}),
    ...(values.base !== undefined ? { base: values.base } : {}),
  };
}

/** Signature and every digest, before anything else reads the node or writes to it. */
export async function verifyFor(o: Pick<CommonOptions, 'bundle' | 'pubs' | 'root'> & { base?: string | undefined }): Promise<VerifiedBundle> {
  if (!o.bundle) throw new AirgapError('USAGE', 'the bundle path is missing');
  const keys = await loadTrustedKeys(o.pubs, nodePath(o.root, TRUSTED_KEYS_DIR));
  const bundle = await verifyBundle(o.bundle, { keys });
  // A delta's base is verified whole, like any bundle, before anything reads the node: then it must
  // be the one the delta names and carry what the delta leaves out.
  return o.base === undefined ? bundle : withBase(bundle, await verifyBundle(o.base, { keys }));
}
