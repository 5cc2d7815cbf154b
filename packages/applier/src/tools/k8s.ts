import { AirgapError, runTool } from '@airgap/core';
import { probe, QUICK } from './exec-tool.ts';

export { DEFAULT_K8S } from '../defaults.ts';

export type ClusterRole = 'control-plane' | 'worker' | 'unknown';

/** What `k8s local-node-status` says of this node. */
export type Membership = { member: false; why: string } | { member: true; name: string; address: string; role: ClusterRole };

// k8s-cli-contract.md "Who may run what", local-node-status row: the one message that means "not a
// member" (cmd/k8s/k8s_local_node_status.go). Every other failure (k8sd down, a timeout) is an error.
const NOT_A_MEMBER = 'The node is not part of a Kubernetes cluster';
// The same table, kubectl row: workers on 1.32–1.34 (cmd/k8s/k8s_kubectl.go:35-39).
const KUBECTL_REFUSED = 'k8s kubectl commands are not allowed on worker nodes';

/**
 * Membership and role, as upstream's own tests read them (`get_local_node_status`): `k8s status`
 * is refused on workers and fails on a control plane whose apiserver is down, so it cannot tell.
 * A node without the k8s snap (no `k8s` yet) is not a member.
 */
export async function k8sMembership(k8s: string): Promise<Membership> {
  let r;
  try {
    r = await probe(k8s, ['local-node-status', '--output-format', 'json']);
  } catch (err) {
    if ((err as { cause?: { code?: string } }).cause?.code === 'ENOENT') return { member: false, why: `${k8s} is not installed yet` };
    throw err;
  }
  if (r.ok) {
    // NodeStatus of k8s-snap-api: {name, address, cluster-role, datastore-role}.
    const s = parseJson(r.stdout) as { name?: unknown; address?: unknown; 'cluster-role'?: unknown } | undefined;
    const role = s?.['cluster-role'];
    if (!s || typeof s.name !== 'string') throw k8sError(`${k8s} local-node-status printed no node status: ${r.stdout.slice(0, 200)}`);
    return {
      member: true,
      name: s.name,
      address: typeof s.address === 'string' ? s.address : '',
      role: role === 'control-plane' || role === 'worker' ? role : 'unknown',
    };
  }
  if (r.exitCode === 127) return { member: false, why: `${k8s} is not installed yet` };
  if (r.stderr.includes(NOT_A_MEMBER)) return { member: false, why: 'not part of a cluster (k8s local-node-status)' };
  throw k8sError(`${k8s} local-node-status failed (exit ${r.exitCode}): ${lastLines(r.stderr || r.stdout)}`);
}

export interface ClusterCallOptions {
  k8s: string;
  file?: string;
  address?: string;
  /** Passed as --timeout (k8s gives up after 90 s by default), and the process gets a minute more. */
  timeoutMs: number;
}

export async function k8sBootstrap(o: ClusterCallOptions): Promise<void> {
  await runTool(o.k8s, ['bootstrap', ...common(o)], { timeout: o.timeoutMs + QUICK });
}

/** The token stays out of the error message: it is a credential until it is used or expires. */
export async function k8sJoin(o: ClusterCallOptions & { token: string }): Promise<void> {
  try {
    await runTool(o.k8s, ['join-cluster', o.token, ...common(o)], { timeout: o.timeoutMs + QUICK });
  } catch (err) {
    if (err instanceof AirgapError) throw new AirgapError(err.code, err.message.split(o.token).join('<join token>'), { hint: err.hint, cause: err });
    throw err;
  }
}

function common(o: ClusterCallOptions): string[] {
  return [
    ...(o.file ? ['--file', o.file] : []),
    ...(o.address ? ['--address', o.address] : []),
    '--timeout',
    `${Math.max(1, Math.round(o.timeoutMs / 1000))}s`,
  ];
}

/** The node's Ready condition from the API server; 'refused' where this node may not run `k8s kubectl`. */
export type NodeReady = { ready: 'True' | 'False' | 'Unknown' | undefined; detail: string } | { ready: 'refused'; detail: string };

export async function k8sNodeReady(k8s: string, name: string): Promise<NodeReady> {
  const r = await probe(k8s, ['kubectl', 'get', 'node', name, '-o', 'json'], QUICK);
  if (!r.ok) {
    const detail = lastLines(r.stderr || r.stdout);
    return r.stderr.includes(KUBECTL_REFUSED) ? { ready: 'refused', detail } : { ready: undefined, detail };
  }
  const node = parseJson(r.stdout) as { status?: { conditions?: { type?: string; status?: string }[] } } | undefined;
  const status = node?.status?.conditions?.find((c) => c.type === 'Ready')?.status;
  const ready = status === 'True' || status === 'False' ? status : 'Unknown';
  return { ready, detail: `Ready=${ready}` };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function lastLines(text: string): string {
  return text.trim().split('\n').filter(Boolean).slice(-3).join(' / ');
}

function k8sError(message: string): AirgapError {
  return new AirgapError('TOOL_FAILED', message, {
    hint: 'is k8sd running? `snap services k8s` and `journalctl -u snap.k8s.k8sd` tell; nothing was bootstrapped or joined',
  });
}
