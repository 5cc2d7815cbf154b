import type { VerifiedBundle } from '@airgap/core';
import type { DiskUse } from './disk-plan.ts';
import type { ContainerdPaths } from './node/containerd-paths.ts';
import type { AirgapState } from './state/state-store.ts';
import type { Recorder } from './state/recorder.ts';

/** The node's fixed facts for one run: read once before planning, never changed by a step. */
export interface NodeFacts {
  /** Filesystem root the node's files live under; `/` on a real node. Paths in state and changes are node paths (as under `/`). */
  root: string;
  bundle: VerifiedBundle;
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
  /** --allow-downgrade: apply an older or expired bundle, or lower a snap revision. */
  allowDowngrade?: boolean;
  /** --no-prune: keep images earlier bundles imported that this one lacks. */
  noPrune?: boolean;
  /** --workloads (true): this control plane deploys the bundle's workloads; --no-workloads (false): not in this run; default: the node that bootstrapped. */
  workloads?: boolean;
}

/** What planning may look at: the facts, the state as loaded (read-only), and the steps before this one that changed (or would change) something. */
export interface StepView {
  node: NodeFacts;
  state: Readonly<AirgapState>;
  changed: ReadonlySet<string>;
}

/** What `apply` gets on top: the one recorder that writes state.json, progress lines, and the checkpoint hook. */
export interface StepContext extends StepView {
  record: Recorder;
  progress: (line: string) => void;
  /** A named point of the run (see checkpoint.ts): a no-op in the product. */
  checkpoint: (point: string) => Promise<void>;
}

/** Every change of a step is one of its own kinds, with why the node needs it. */
export interface StepChange {
  kind: string;
  why: string;
}

/**
 * A node step (docs/architecture.md, "Adding a step"): `read` looks at the node and changes
 * nothing, `check` decides from what was read and nothing else, `apply` is an exhaustive `switch`
 * on the step's own change kinds. Adding a step is one file and one line in steps/index.ts.
 */
export interface Step<Id extends string, C extends StepChange, Seen> {
  id: Id;
  describe: string;
  /** Why the step does not apply to this bundle/node, or undefined when it does. Decided from facts and state only. */
  skip?(view: StepView): string | undefined;
  read(view: StepView): Promise<Seen>;
  check(view: StepView, seen: Seen): C[];
  /** How a change reads in `plan` and `plan --json`: a verb and what it acts on. */
  show(change: C): { action: string; target: string };
  apply(ctx: StepContext, changes: readonly C[]): Promise<void>;
}

/** One change as `plan --json` prints it: `action`/`target`/`why` for people, `change` as the step's own data. */
export interface PlannedChange<C extends StepChange = StepChange> {
  action: string;
  target: string;
  why: string;
  change: C;
}

export type StepStatus = 'ok' | 'change' | 'skip' | 'fail';

export interface StepPlan {
  /** A step's id, or `preflight` for the checks before any step. */
  id: string;
  describe: string;
  status: StepStatus;
  why: string;
  changes: PlannedChange[];
  /** Preflight only: what the apply writes on each file system, and its free space. */
  disk?: DiskUse[];
}

export interface Plan {
  bundle: { name: string; digest: string; signer: string };
  root: string;
  steps: StepPlan[];
}
