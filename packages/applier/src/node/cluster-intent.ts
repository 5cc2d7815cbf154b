import type { NodeFacts } from '../types.ts';

/** What the cluster step is asked to do: join with --join-token, bootstrap with cluster.bootstrap, or nothing. */
export function clusterIntent(node: NodeFacts): 'join' | 'bootstrap' | undefined {
  if (node.joinToken) return 'join';
  if (node.bundle.manifest.spec.cluster?.bootstrap) return 'bootstrap';
  return undefined;
}
