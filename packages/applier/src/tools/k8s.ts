import { runTool } from '@airgap/core';
import { probe, QUICK, SLOW } from './exec-tool.ts';

/** True when this node is part of a cluster (`k8s status` succeeds). */
export async function k8sInCluster(): Promise<boolean> {
  return (await probe('k8s', ['status'])).ok;
}

export async function k8sBootstrap(o: { file?: string }): Promise<void> {
  await runTool('k8s', ['bootstrap', ...(o.file ? ['--file', o.file] : [])], { timeout: SLOW });
}

export async function k8sJoin(token: string): Promise<void> {
  await runTool('k8s', ['join-cluster', token], { timeout: SLOW });
}

/** The node's Ready condition: 'True', 'False', 'Unknown', or undefined when the node is not registered yet. */
export async function k8sNodeReady(name: string): Promise<string | undefined> {
  const r = await probe('k8s', ['kubectl', 'get', 'node', name, '-o', 'json'], QUICK);
  if (!r.ok) return undefined;
  try {
    const node = JSON.parse(r.stdout) as { status?: { conditions?: { type?: string; status?: string }[] } };
    return node.status?.conditions?.find((c) => c.type === 'Ready')?.status ?? 'Unknown';
  } catch {
    return undefined;
  }
}
