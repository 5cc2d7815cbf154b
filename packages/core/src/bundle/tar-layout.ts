import type { ManifestEntry } from './manifest.ts';

export const BLOCK = 512;

export function paddedSize(size: number): number {
  return Math.ceil(size / BLOCK) * BLOCK;
}

export interface EntryLocation {
  entry: ManifestEntry;
  /** Byte offset of the entry's data (after its header) in the tar. */
  dataOffset: number;
}

/**
 * Where every entry's data sits. The writer emits plain ustar headers only (no pax, no
 * directories), so the layout follows from the sizes: this lets `serve` and `apply` read one
 * entry without scanning the archive, and lets the reader refuse anything appended.
 */
export function tarLayout(manifestSize: number, signatureSize: number, entries: readonly ManifestEntry[]): { locations: EntryLocation[]; totalSize: number } {
  let offset = BLOCK + paddedSize(manifestSize) + BLOCK + paddedSize(signatureSize);
  const locations: EntryLocation[] = [];
  for (const entry of entries) {
    locations.push({ entry, dataOffset: offset + BLOCK });
    offset += BLOCK + paddedSize(entry.size);
  }
  return { locations, totalSize: offset + 2 * BLOCK };
}
