import { createHash } from 'node:crypto';
import type { Descriptor, ImageIndexDoc } from '@airgap/core';
import { formatPlatform, isAttestation } from './select-platforms.ts';

/** The index of the children a bundle carries, for registries that refuse the upstream one. */
export interface SubsetIndex {
  digest: string;
  size: number;
  bytes: Buffer;
  /** The image platforms it lists, attestation manifests left out. */
  platforms: string[];
}

/**
 * When the bundle carries only some children of `upstream`, the same index listing those alone:
 * in upstream order, each descriptor as upstream wrote it, and every other field (mediaType,
 * schemaVersion, annotations) kept. Undefined when every child is carried (the index is exact).
 */
export function subsetIndex(upstream: ImageIndexDoc, carried: readonly Descriptor[]): SubsetIndex | undefined {
  const all = upstream.manifests ?? [];
  const keep = new Set(carried.map((d) => d.digest));
  const manifests = all.filter((d) => keep.has(d.digest));
  if (manifests.length === all.length) return undefined;
  const bytes = Buffer.from(JSON.stringify({ ...upstream, manifests }));
  return {
    digest: `sha256:${createHash('sha256').update(bytes).digest('hex')}`,
    size: bytes.length,
    bytes,
    platforms: manifests.filter((d) => !isAttestation(d)).map((d) => formatPlatform(d.platform)),
  };
}
