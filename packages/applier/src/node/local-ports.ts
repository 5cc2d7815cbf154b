import { createServer } from 'node:net';
import type { BundleManifest } from '@airgap/core';

/**
 * The ports the k8s pre-init check wants free on a node that bootstraps or joins (k8s-snap
 * release-1.34 `src/k8s/pkg/utils/checks/checks.go`, `CheckK8sServicePorts`, defaults from
 * `pkg/k8sd/types/k8s_service_configs.go` and `cluster_config_defaults.go`): kubelet, its healthz
 * and read-only ports, kube-proxy's healthz and metrics, and 6443 (kube-apiserver, or the
 * apiserver proxy on workers); a bootstrap also needs the scheduler's, the controller manager's
 * and the datastore's. A join's role is the token's, so only the ports every node needs.
 */
export function preInitPorts(manifest: BundleManifest, how: 'bootstrap' | 'join'): Map<number, string> {
  const ports = new Map<number, string>([
    [10250, 'kubelet'],
    [10248, 'kubelet-healthz'],
    [10255, 'kubelet-read-only'],
    [10256, 'kube-proxy-healthz'],
    [10249, 'kube-proxy-metrics'],
    [6443, how === 'bootstrap' ? 'kube-apiserver' : 'kube-apiserver or its proxy'],
  ]);
  if (how === 'bootstrap') {
    ports.set(10259, 'kube-scheduler').set(10257, 'kube-controller-manager');
    const datastore = manifest.k8s?.datastore ?? 'etcd';
    if (datastore === 'etcd') ports.set(2379, 'etcd').set(2380, 'etcd-peer');
    if (datastore === 'k8s-dqlite') ports.set(9000, 'k8s-dqlite');
  }
  return ports;
}

/** The ports something on this node already listens on: like upstream's `IsLocalPortOpen`, a TCP listen on every address. */
export async function portsInUse(ports: Iterable<number>): Promise<number[]> {
  const busy = await Promise.all([...ports].map(async (port) => ((await canListen(port)) ? undefined : port)));
  return busy.filter((p): p is number => p !== undefined);
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', (err: NodeJS.ErrnoException) => resolve(err.code !== 'EADDRINUSE'));
    server.listen({ port, exclusive: true }, () => server.close(() => resolve(true)));
  });
}
