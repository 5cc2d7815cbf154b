import { AirgapError, type BundleManifest, type ErrorCode } from '@airgap/core';
import { diskProblems, readDiskUse, type DiskUse } from './disk-plan.ts';
import { deltaProblems, readDelta, type DeltaSeen } from './delta/delta-coverage.ts';
import { nodeArch } from './node/arch.ts';
import { clusterIntent } from './node/cluster-intent.ts';
import { nodePath } from './node/node-path.ts';
import { pathExists } from './node/path-exists.ts';
import { portsInUse, preInitPorts } from './node/local-ports.ts';
import { defaultRoutes } from './tools/ip.ts';
import { k8sMembership } from './tools/k8s.ts';
import { loadState, type AirgapState } from './state/state-store.ts';
import { snapRevision, snapVersion } from './tools/snap.ts';
import { keepingImagesRead } from './steps/images.ts';
import type { NodeFacts, StepPlan } from './types.ts';

/** One reason the node cannot converge; `about` names what (shown as the target of a `refuse`). */
export interface Problem {
  kind: 'refuse';
  about: string;
  why: string;
  /** The error code the run stops with when it is not PREFLIGHT_FAILED (an older or expired bundle, a full file system: exit 2). */
  code?: Extract<ErrorCode, 'BUNDLE_DOWNGRADE' | 'BUNDLE_EXPIRED' | 'DISK_SPACE' | 'DELTA_BASE_MISSING'>;
  /** What to do about this one, when it is more than "fix the above". */
  hint?: string;
}

/** What the node last applied, for the downgrade and replay checks; absent: no such checks. */
export interface AppliedSeen {
  last: AirgapState['bundle'];
  /** Installed revision of each snap the bundle carries (undefined: not installed). */
  snaps: Record<string, number | undefined>;
  /** Milliseconds since the epoch, for expiresAt. */
  now: number;
}

/** What preflight reads from the node; `preInit` only for a node that is about to bootstrap or join. */
export interface PreflightSeen {
  uid: number | undefined;
  arch: string;
  /** What the apply writes on each file system, and its free space (disk-plan.ts). */
  disk: DiskUse[];
  snapd: { ok: true } | { ok: false; why: string };
  preInit:
    | { intent: 'bootstrap' | 'join'; member: true }
    | { intent: 'bootstrap' | 'join'; error: string }
    | { intent: 'bootstrap' | 'join'; member: false; runDirTaken: boolean; busy: number[] }
    | undefined;
  defaultRoutes: number;
  applied?: AppliedSeen;
  /** Only for a delta bundle: where the entries it leaves out come from (delta/delta-coverage.ts). */
  delta?: DeltaSeen;
}

export const PREFLIGHT_DESCRIBE =
  'root, architecture, free space on each file system the apply writes to, snapd, before bootstrap or join no foreign containerd and free k8s ports, a default route, no older or expired bundle';

export async function readPreflight(node: NodeFacts): Promise<PreflightSeen> {
  const snapd = await snapVersion().then(
    () => ({ ok: true }) as const,
    (err: unknown) => ({ ok: false, why: (err as Error).message }) as const,
  );
  const applied = await readApplied(node);
  return {
    uid: process.getuid?.(),
    arch: nodeArch(),
    // The disk check reads containerd's images through the images step, which keeps that reading for its own.
    disk: await keepingImagesRead(node, () => readDiskUse(node)),
    snapd,
    preInit: await readPreInit(node),
    defaultRoutes: (await defaultRoutes()).length,
    applied,
    delta: await readDelta(node, applied.snaps),
  };
}

async function readApplied(node: NodeFacts): Promise<AppliedSeen> {
  const { value } = await loadState(node.root, { dryRun: true });
  const snaps: Record<string, number | undefined> = {};
  for (const s of node.bundle.manifest.snaps) snaps[s.name] = await snapRevision(s.name);
  return { last: value.bundle, snaps, now: Date.now() };
}

/**
 * What the k8s pre-init check would refuse at the very end of the run (k8s-cli-contract.md,
 * "Pre-init checks"), read here before anything changes. Only a node that is not a member yet
 * bootstraps or joins; on a member the snap's own containerd made run/containerd and its own
 * services hold the ports.
 */
async function readPreInit(node: NodeFacts): Promise<PreflightSeen['preInit']> {
  const intent = clusterIntent(node);
  if (!intent) return undefined;
  const m = await k8sMembership(node.k8s).catch((err: unknown) => err as Error);
  if (m instanceof Error) return { intent, error: m.message };
  if (m.member) return { intent, member: true };
  const runDirTaken = await pathExists(nodePath(node.root, node.containerd.runDir));
  return { intent, member: false, runDirTaken, busy: await portsInUse(preInitPorts(node.bundle.manifest, intent).keys()) };
}

/** Decides from what was read: every reason the node cannot converge, in a fixed order. */
export function preflightProblems(node: NodeFacts, seen: PreflightSeen): Problem[] {
  const problems: Problem[] = [];
  const refuse = (about: string, why: string) => problems.push({ kind: 'refuse', about, why });
  const m = node.bundle.manifest;
  if (seen.uid !== 0) refuse('user', 'the applier must run as root (sudo applier apply ...)');
  if (!m.platforms.some((p) => p.split('/')[1] === seen.arch))
    refuse('architecture', `this node is linux/${seen.arch}; the bundle is for ${m.platforms.join(', ')}`);
  for (const d of diskProblems(seen.disk)) problems.push({ kind: 'refuse', ...d, code: 'DISK_SPACE' });
  if (!seen.snapd.ok) refuse('snap', `snapd is not usable: ${seen.snapd.why}`);
  const pre = seen.preInit;
  if (pre && 'error' in pre) refuse('k8s', `cannot tell whether this node is a cluster member: ${pre.error}`);
  else if (pre && !pre.member) {
    const { runDir } = node.containerd;
    if (pre.runDirTaken) refuse(runDir, `another containerd (or Docker) owns ${runDir}; the k8s snap refuses to bootstrap or join then: remove it first`);
    if (pre.busy.length > 0) {
      const ports = preInitPorts(m, pre.intent);
      const list = [...pre.busy]
        .sort((a, b) => a - b)
        .map((p) => `${p} (${ports.get(p) ?? ''})`)
        .join(', ');
      refuse('ports', `something on this node already listens on ${list}; the k8s snap refuses to ${pre.intent} then: stop it first (ss -ltnp shows what)`);
    }
  }
  if (seen.defaultRoutes === 0 && !m.spec.network?.defaultRoute)
    refuse('default route', 'the node has no default route and the bundle sets no network.defaultRoute; Kubernetes needs one');
  if (seen.applied && !node.allowDowngrade) problems.push(...downgradeProblems(m, seen.applied));
  for (const d of deltaProblems(seen.delta)) problems.push({ kind: 'refuse', ...d, code: 'DELTA_BASE_MISSING' });
  return problems;
}

/**
 * The signature says who built a bundle, not when: an old, validly signed bundle must not take a
 * node back (or be replayed over a newer one). Sequences count per bundle name; a bundle without
 * one (or a state from before sequences) is compared by createdAt. The same bundle again is fine.
 */
export function downgradeProblems(m: Pick<BundleManifest, 'name' | 'createdAt' | 'sequence' | 'expiresAt' | 'snaps'>, applied: AppliedSeen): Problem[] {
  const problems: Problem[] = [];
  const hint = 'apply a newer bundle, or pass --allow-downgrade if this is meant';
  if (m.expiresAt !== undefined && Date.parse(m.expiresAt) <= applied.now) {
    problems.push({ kind: 'refuse', about: 'expires', why: `the bundle expired at ${m.expiresAt} (${hint})`, code: 'BUNDLE_EXPIRED' });
  }
  const last = applied.last;
  if (last?.name === m.name) {
    const older =
      m.sequence !== undefined && last.sequence !== undefined
        ? m.sequence < last.sequence && `sequence ${m.sequence} is below ${last.sequence}, which this node last applied (${last.digest})`
        : last.createdAt !== undefined &&
          Date.parse(m.createdAt) < Date.parse(last.createdAt) &&
          `it was created at ${m.createdAt}, before ${last.createdAt}, when the bundle this node last applied was (${last.digest})`;
    if (older)
      problems.push({ kind: 'refuse', about: 'sequence', why: `${m.name} is older than what this node runs: ${older} (${hint})`, code: 'BUNDLE_DOWNGRADE' });
  }
  for (const s of m.snaps) {
    const have = applied.snaps[s.name];
    if (have !== undefined && s.revision < have) {
      problems.push({
        kind: 'refuse',
        about: `snap ${s.name}`,
        why: `the bundle carries ${s.name} revision ${s.revision}, below the installed ${have} (${hint})`,
        code: 'BUNDLE_DOWNGRADE',
      });
    }
  }
  return problems;
}

/** The preflight stage as the first row of a plan: `fail` with every problem, or `ok`. */
export async function planPreflight(node: NodeFacts): Promise<StepPlan> {
  const seen = await readPreflight(node);
  const problems = preflightProblems(node, seen);
  const changes = problems.map((p) => ({ action: p.kind, target: p.about, why: p.why, change: p }));
  const base = { id: 'preflight', describe: PREFLIGHT_DESCRIBE, changes, disk: seen.disk };
  return problems.length > 0 ? { ...base, status: 'fail', why: problems.map((p) => p.why).join('; ') } : { ...base, status: 'ok', why: 'nothing to change' };
}

/** PREFLIGHT_FAILED (exit 1), or the problem's own code (exit 2) when an older or expired bundle or a full file system is among the problems. */
export function preflightError(row: StepPlan): AirgapError {
  const problems = row.changes.map((c) => c.change as Problem);
  const code = problems.map((p) => p.code).find((c) => c !== undefined) ?? 'PREFLIGHT_FAILED';
  const hints = problems.flatMap((p) => (p.hint ? [p.hint] : []));
  return new AirgapError(code, `preflight: ${row.changes.map((c) => c.why).join('; ')}`, {
    hint: [...hints, 'fix the above and run the applier again; nothing was changed'].join('; '),
  });
}
