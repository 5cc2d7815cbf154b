import { createHash } from 'node:crypto';
import type { BundleManifest, Lock, LockedBundle } from '@airgap/core';

/** What decides a bundle's content: everything the manifest says apart from its time, signer and sequence. */
export interface SequenceInput {
  manifest: Pick<BundleManifest, 'name' | 'generator' | 'specText' | 'spec' | 'platforms' | 'containerd' | 'k8s'>;
  lock: Pick<Lock, 'snaps' | 'images'>;
  /** Payload made in memory (hosts files, the bootstrap config), by entry path. */
  data: { path: string; data: Uint8Array }[];
}

/**
 * The lock's `bundle` for this build: the previous sequence while the content is the same (a
 * rebuild with the same inputs stays byte-identical), one more when it changed, 1 for a new name.
 * A --frozen build never bumps: it keeps the lock as it is. Images and snaps count by their
 * locked digests, so `bundler lock` (which downloads no layer) and `bundler build` agree.
 */
export function nextBundleSequence(o: SequenceInput & { previous: LockedBundle | undefined; frozen: boolean }): LockedBundle | undefined {
  if (o.frozen) return o.previous;
  const content = contentDigest(o);
  const prev = o.previous?.name === o.manifest.name ? o.previous : undefined;
  if (prev?.content === content) return prev;
  return { name: o.manifest.name, sequence: (prev?.sequence ?? 0) + 1, content };
}

export function contentDigest(o: SequenceInput): string {
  const m = o.manifest;
  const data = [...o.data].sort((a, b) => a.path.localeCompare(b.path)).map((d) => [d.path, createHash('sha256').update(d.data).digest('hex')]);
  const text = JSON.stringify([m.name, m.generator, m.specText, m.spec, m.platforms, m.containerd, m.k8s ?? null, o.lock.snaps, o.lock.images, data]);
  return `sha256:${createHash('sha256').update(text).digest('hex')}`;
}

const UNIT_MS = { h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000 } as const;

/** `createdAt` plus `metadata.expires` (`90d`, `12h`, `4w`; the spec schema allows no other form). */
export function expiresAt(createdAtSeconds: number, expires: string | undefined): string | undefined {
  const m = expires === undefined ? undefined : /^([1-9][0-9]*)([hdw])$/.exec(expires);
  if (!m) return undefined;
  return new Date(createdAtSeconds * 1000 + Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS]).toISOString();
}
