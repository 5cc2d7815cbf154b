import type { VerifiedBundle } from '@airgap/core';
import type { ContainerdPaths } from './node/containerd-paths.ts';
import type { StateStore } from './state/state-store.ts';

export type StepId = 'preflight' | 'default-route' | 'snaps' | 'containerd-hosts' | 'proxy' | 'images' | 'restart' | 'cluster';

/** One thing a step would change, as plain data: `plan --json` prints it, `apply` is handed it back. */
export interface Change {
  /** Verb: write, remove, install, refresh, record, import, side-load, add-route, restart, bootstrap, join, wait-ready, refuse. */
  action: string;
  /** What it acts on: a node path, a snap, an image ref. */
  target: string;
  why: string;
}

/** Everything a step may read or act on. Paths in state and changes are node paths (as under `/`). */
export interface Node {
  /** Filesystem root the node's files live under; `/` on a real node. */
  root: string;
  bundle: VerifiedBundle;
  state: StateStore;
  /** Unix socket of the k8s snap's containerd, as this process reaches it (under root, or --containerd-address). */
  containerdAddress: string;
  /** Where the k8s snap's containerd keeps its files on this node (node paths). */
  containerd: ContainerdPaths;
  ctrPath: string;
  /** The k8s CLI, run by path (--k8s). */
  k8s: string;
  joinToken: string | undefined;
  /** --address: what k8s advertises for this node; else cluster.address from the spec, else k8s picks. */
  addressFlag: string | undefined;
  /** The hostname as k8s cleans it: the node's name in the cluster. */
  nodeName: string;
  waitTimeoutMs: number;
  dryRun: boolean;
  /** Steps that have (or, while planning, would have) changed something in this run. */
  changedSteps: Set<StepId>;
  progress: (line: string) => void;
}

/** A node step (STYLE.md §4): adding a step is one file and one line in steps/index.ts. */
export interface Step {
  id: StepId;
  describe(): string;
  /** Why the step does not apply to this bundle/node, or undefined when it does. */
  skip?(node: Node): string | undefined;
  check(node: Node): Promise<Change[]>;
  apply(node: Node, changes: Change[]): Promise<void>;
}

export type StepStatus = 'ok' | 'change' | 'skip' | 'fail';

export interface StepPlan {
  id: StepId;
  describe: string;
  status: StepStatus;
  why: string;
  changes: Change[];
}

export interface Plan {
  bundle: { name: string; digest: string; signer: string };
  root: string;
  steps: StepPlan[];
}
