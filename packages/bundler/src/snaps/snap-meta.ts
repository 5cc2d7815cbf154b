import { parse } from 'yaml';
import { AirgapError } from '@airgap/core';
import { catFromSquashfs } from '../tools/unsquashfs.ts';

export interface SnapMeta {
  name: string;
  type: string;
  base?: string;
  confinement: string;
  /** The snap's version; for k8s the Kubernetes version it was built from, e.g. `v1.32.2`. */
  version?: string;
}

/** meta/snap.yaml of a snap file: its real name, base, confinement and version. */
export async function readSnapMeta(snapPath: string): Promise<SnapMeta> {
  const text = await catFromSquashfs(snapPath, 'meta/snap.yaml');
  if (text === undefined) throw new AirgapError('SNAP_INVALID', `${snapPath} has no meta/snap.yaml`, { hint: 'this is not a snap; download it again' });
  const y = parse(text, { maxAliasCount: 10 }) as Partial<Record<string, unknown>> | null;
  if (!y || typeof y.name !== 'string') throw new AirgapError('SNAP_INVALID', `${snapPath}: meta/snap.yaml has no name`);
  return {
    name: y.name,
    type: typeof y.type === 'string' ? y.type : 'app',
    base: typeof y.base === 'string' ? y.base : undefined,
    confinement: typeof y.confinement === 'string' ? y.confinement : 'strict',
    ...(typeof y.version === 'string' ? { version: y.version } : {}),
  };
}

/** The images the k8s snap's features need (`images.txt` at the snap's root). */
export async function readSnapImages(snapPath: string): Promise<string[]> {
  const text = await catFromSquashfs(snapPath, 'images.txt');
  if (text === undefined) return [];
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
}
