import { stat } from 'node:fs/promises';
import path from 'node:path';
import { hostname } from 'node:os';
import { AirgapError, loadTrustedKeys, parseCommandArgs, TRUSTED_KEYS_DIR, verifyBundle, type VerifiedBundle } from '@airgap/core';
import { nodePath } from '../node/node-path.ts';
import { loadState } from '../state/state-store.ts';
import type { Node } from '../types.ts';

export const DEFAULT_CTR = '/snap/k8s/current/bin/ctr';
export const DEFAULT_CONTAINERD_ADDRESS = '/run/containerd/containerd.sock';

export const OPTIONS = {
  pub: { type: 'string', multiple: true },
  root: { type: 'string' },
  'dry-run': { type: 'boolean' },
  json: { type: 'boolean' },
  'join-token': { type: 'string' },
  ctr: { type: 'string' },
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
  containerdAddress: string;
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
    containerdAddress: values['containerd-address'] ?? DEFAULT_CONTAINERD_ADDRESS,
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
  return {
    root: o.root,
    bundle,
    state: await loadState(o.root, { dryRun: o.dryRun }),
    containerdAddress: o.containerdAddress,
    ctrPath: o.ctr,
    joinToken: o.joinToken,
    nodeName: hostname(),
    waitTimeoutMs: o.waitTimeoutMs,
    dryRun: o.dryRun,
    changedSteps: new Set(),
    progress,
  };
}
