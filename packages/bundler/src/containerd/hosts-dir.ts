/**
 * Where the k8s snap's containerd reads hosts.toml files. Since k8s 1.32 (classic confinement)
 * containerd lives at system paths; older releases kept it under the snap's common dir.
 */
export function defaultHostsDir(channel: string): string {
  const m = /^(\d+)\.(\d+)/.exec(channel);
  if (m && Number(m[1]) === 1 && Number(m[2]) < 32) return '/var/snap/k8s/common/etc/containerd/hosts.d';
  return '/etc/containerd/hosts.d';
}

/** The upstream a registry name stands for: containerd's `server`, tried after the mirrors. */
export function upstreamServer(registry: string): string {
  return registry === 'docker.io' ? 'https://registry-1.docker.io' : `https://${registry}`;
}
