import type { BundleManifest } from '@airgap/core';

/** The bundle's k8s release ("1.32"): the signed manifest's, else the channel's track (older bundles). */
export function bundleRelease(m: BundleManifest): string | undefined {
  return /^\d+\.\d+/.exec(m.k8s?.release ?? m.spec.k8s.channel)?.[0];
}

/** True when the release is known and older than `major.minor`. */
export function releaseBefore(release: string | undefined, major: number, minor: number): boolean {
  const r = /^(\d+)\.(\d+)/.exec(release ?? '');
  if (!r) return false;
  const [a, b] = [Number(r[1]), Number(r[2])];
  return a < major || (a === major && b < minor);
}
