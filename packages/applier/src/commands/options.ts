import { stat } from 'node:fs/promises';
import path from 'node:path';
import { hostname } from 'node:os';
import { AirgapError, loadTrustedKeys, parseCommandArgs, TRUSTED_KEYS_DIR, verifyBundle, type VerifiedBundle } from '@airgap/core';
import { containerdPaths } from '../node/containerd-paths.ts';
import { cleanHostname } from '../node/node-name.ts';
import { nodePath } from '../node/node-path.ts';
import { DEFAULT_K8S } from '../tools/k8s.ts';
import { loadState } from '../state/state-store.ts';
import type { Node } from '../types.ts';

export const DEFAULT_CTR = '/snap/k8s/current/bin/ctr';

export const OPTIONS = {
  pub: { type: 'string', multiple: true },
  root: { type: 'string' },
  'dry-run': { type: 'boolean' },
  json: { type: 'boolean' },
  'join-token': { type: 'string' },
  ctr: { type: 'string' },
  k8s: { type: 'string' },
  address: { type: 'string' },
  'containerd-address': { type: 'string' },
  'wait-timeout': { type: 'string' },
} as const;

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
}

export function parseOptions(args: string[], usage: string): CommonOptions {
  const { values, positionals } = parseCommandArgs(args, OPTIONS, usage);
  if (positionals.length > 1) throw new AirgapError('USAGE', `unexpected arguments: ${positionals.slice(1).join(' ')}`, { hint: `usage: ${usage}` });
  const wait = Number(values['wait-timeout'] ?? 600);
  if (!Number.isFinite(wait) || wait < 0) throw new AirgapError('USAGE', '--wait-timeout takes seconds', { hint: `usage: ${usage}` });
  // AIRGAP_JOIN_TOKEN keeps the token out of the process list (`ps` shows arguments to every user).
  const token = values['join-token'] ?? (process.env.AIRGAP_JOIN_TOKEN || undefined);
  if (token !== undefined && !/^[A-Za-z0-9+/=_.:-]+$/.test(token)) throw new AirgapError('USAGE', '--join-token does not look like a k8s join token', { hint: 'copy it from `k8s get-join-token NAME` on a control-plane node' });
  return {
    bundle: positionals[0],
    pubs: values.pub ?? [],
    root: path.resolve(values.root ?? '/'),
    dryRun: values['dry-run'] ?? false,
    json: values.json ?? false,
    joinToken: token,
    ctr: values.ctr ?? DEFAULT_CTR,
    k8s: values.k8s ?? DEFAULT_K8S,
    address: values.address,
    containerdAddress: values['containerd-address'],
    waitTimeoutMs: wait * 1000,
  };
}

/** Signature and every digest, before anything else reads the node or writes to it. */
export async function verifyFor(o: Pick<CommonOptions, 'bundle' | 'pubs' | 'root'>, usage: string): Promise<VerifiedBundle> {
  if (!o.bundle) throw new AirgapError('USAGE', 'the bundle path is missing', { hint: `usage: ${usage}` });
  const keys = await loadTrustedKeys(o.pubs, nodePath(o.root, TRUSTED_KEYS_DIR));
  return verifyBundle(o.bundle, { keys });
}

export async function nodeFor(o: CommonOptions, bundle: VerifiedBundle, progress: (line: string) => void): Promise<Node> {
  const root = await stat(o.root).catch(() => undefined);
  if (!root?.isDirectory()) throw new AirgapError('USAGE', `--root ${o.root} is not a directory`, { hint: 'create it first, or leave --root out to apply to /' });
  const bootstraps = !o.joinToken && Boolean(bundle.manifest.spec.cluster?.bootstrap);
  const containerd = await containerdPaths({ root: o.root, manifest: bundle.manifest, bootstraps });
  return {
    root: o.root,
    bundle,
    state: await loadState(o.root, { dryRun: o.dryRun }),
    containerdAddress: o.containerdAddress ?? nodePath(o.root, containerd.socket),
    containerd,
    ctrPath: o.ctr,
    k8s: o.k8s,
    joinToken: o.joinToken,
    addressFlag: o.address,
    nodeName: cleanHostname(hostname()),
    waitTimeoutMs: o.waitTimeoutMs,
    dryRun: o.dryRun,
    changedSteps: new Set(),
    progress,
  };
}
