import path from 'node:path';
import { K8S_RELEASES, type K8sRelease } from '@airgap/core';

/**
 * The k8s release (minor) a bundle carries. The snap's version is the Kubernetes version it was
 * built from (snap/snapcraft.yaml `adopt-info: kubernetes-version`, i.e.
 * build-scripts/components/kubernetes/version, e.g. `v1.35.7`); the channel's track is the fallback
 * for a snap whose version says nothing (`1.32-classic/stable` → `1.32`). Undefined when neither
 * names a minor release.
 */
export function releaseOf(o: { version?: string; channel: string }): string | undefined {
  const fromVersion = /^v(\d+)\.(\d+)\.\d+/.exec(o.version ?? '');
  if (fromVersion) return `${Number(fromVersion[1])}.${Number(fromVersion[2])}`;
  const fromTrack = /^(\d+)\.(\d+)(?:-[a-z0-9-]+)?(?:\/|$)/.exec(o.channel);
  return fromTrack ? `${Number(fromTrack[1])}.${Number(fromTrack[2])}` : undefined;
}

export function isKnownRelease(release: string | undefined): release is K8sRelease {
  return (K8S_RELEASES as readonly string[]).includes(release ?? '');
}

/**
 * containerd's base dir on the node when the bootstrap config sets `containerd-base-dir`.
 * 1.32–1.35 append `k8s-containerd` (src/k8s/pkg/k8sd/api/cluster_bootstrap.go:45-47 and
 * cluster_join.go:49-51 on canonical/k8s-snap release-1.3x: `filepath.Join(dir, "k8s-containerd")`);
 * 1.36's k8sd uses the directory itself, cleaned (canonical/k8sd main, commit d9b3884:
 * pkg/k8sd/api/cluster_bootstrap.go:42-45, cmd/k8s/k8s_bootstrap.go normalizeContainerdBaseDir).
 */
export function containerdBaseFor(release: K8sRelease, dir: string): string {
  const clean = path.posix.normalize(dir).replace(/(.)\/+$/, '$1');
  return release === '1.36' ? clean : path.posix.join(clean, 'k8s-containerd');
}
