import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { BundleManifest } from '@airgap/core';
import { nodePath } from './node-path.ts';

/** k8sd writes the containerd base it set up here (k8s-snap `pkg/k8sd/setup/containerd.go`). */
export const BASE_DIR_LOCK = '/var/snap/k8s/common/lock/.containerd-base-dir';
/** $SNAP_COMMON: the base of strictly confined builds (k8s-cli-contract.md, "containerd of the snap"). */
const STRICT_BASE = '/var/snap/k8s/common';

export interface ContainerdPaths {
  /** Node path containerd's files live under: `/` for the classic snap. */
  base: string;
  /** Where the base came from, for `plan` and `status`. */
  from: 'node' | 'bootstrap config' | 'confinement';
  hostsDir: string;
  /** Node path of the socket. */
  socket: string;
  /** Node path the pre-init check refuses to find on a node that is not a member. */
  runDir: string;
}

/**
 * The node decides, not the channel: once k8sd has set containerd up, its lock file names the base;
 * before the first bootstrap, the bundle's bootstrap config (`containerd-base-dir`) on the node
 * that bootstraps with it, else the k8s snap's confinement.
 */
export async function containerdPaths(o: { root: string; manifest: BundleManifest; bootstraps: boolean }): Promise<ContainerdPaths> {
  const locked = (await readFile(nodePath(o.root, BASE_DIR_LOCK), 'utf8').catch(() => '')).trim();
  const configured = o.bootstraps ? o.manifest.k8s?.containerdBaseDir : undefined;
  const classic = o.manifest.snaps.find((s) => s.role === 'k8s')?.classic ?? true;
  const [base, from]: [string, ContainerdPaths['from']] = path.posix.isAbsolute(locked)
    ? [locked, 'node']
    : configured
      ? [configured, 'bootstrap config']
      : [classic ? '/' : STRICT_BASE, 'confinement'];
  const under = (rel: string) => path.posix.join(base, rel);
  return {
    base,
    from,
    // An explicit containerd.hostsDir in the spec wins: the site knows better than the defaults.
    hostsDir: o.manifest.spec.containerd?.hostsDir ?? under('etc/containerd/hosts.d'),
    socket: under('run/containerd/containerd.sock'),
    runDir: under('run/containerd'),
  };
}
