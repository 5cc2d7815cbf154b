import { OCI_INDEX, type BundleEvidence } from '@airgap/core';

/**
 * A descriptor as the referrers API lists it (distribution-spec v1.1.0 spec.md "Listing
 * Referrers"): the referrer's mediaType, digest and size, its artifactType, and its annotations.
 */
export interface ReferrerDescriptor {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
}

/** The listing descriptor of a carried referrer, from its manifest bytes. */
export function referrerDescriptor(bytes: Buffer, e: BundleEvidence): ReferrerDescriptor {
  const doc = JSON.parse(bytes.toString('utf8')) as { annotations?: unknown };
  const annotations = doc.annotations && typeof doc.annotations === 'object' ? (doc.annotations as Record<string, string>) : undefined;
  return {
    mediaType: e.mediaType,
    digest: e.digest,
    size: e.size,
    ...(e.artifactType ? { artifactType: e.artifactType } : {}),
    ...(annotations && Object.keys(annotations).length > 0 ? { annotations } : {}),
  };
}

/** An image index listing `descriptors`: the referrers API's answer, and the fallback tag's content. */
export function referrersIndex(descriptors: readonly ReferrerDescriptor[]): Buffer {
  return Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: descriptors }));
}

/** The digests an index lists (an unreadable one lists none). */
export function listedDigests(index: Buffer): string[] {
  try {
    const doc = JSON.parse(index.toString('utf8')) as { manifests?: { digest?: unknown }[] };
    return (doc.manifests ?? []).flatMap((d) => (typeof d.digest === 'string' ? [d.digest] : []));
  } catch {
    return [];
  }
}

/**
 * The mirror's fallback index with `ours` added after its own entries (kept as they are, in their
 * order); `changed` false when it lists all of them already, so nothing needs writing.
 */
export function mergeReferrers(current: Buffer, ours: readonly ReferrerDescriptor[]): { bytes: Buffer; changed: boolean } {
  const doc = JSON.parse(current.toString('utf8')) as Record<string, unknown> & { manifests?: ReferrerDescriptor[] };
  const have = new Set(listedDigests(current));
  const added = ours.filter((d) => !have.has(d.digest));
  if (added.length === 0) return { bytes: current, changed: false };
  return {
    bytes: Buffer.from(JSON.stringify({ ...doc, schemaVersion: 2, mediaType: OCI_INDEX, manifests: [...(doc.manifests ?? []), ...added] })),
    changed: true,
  };
}
