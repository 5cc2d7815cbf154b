import path from 'node:path';
import fg from 'fast-glob';
import { AirgapError } from '@airgap/core';

export interface SnapFile {
  revision: number;
  snapPath: string;
  assertPath: string;
}

/** NAME_REV.snap files in a folder that have their NAME_REV.assert beside them. */
export async function listSnapFiles(dir: string, name: string): Promise<SnapFile[]> {
  const files = await fg(`${fg.escapePath(name)}_*.snap`, { cwd: dir, onlyFiles: true, followSymbolicLinks: true });
  const out: SnapFile[] = [];
  for (const f of files) {
    const m = new RegExp(`^${name.replace(/[-]/g, '\\-')}_(\\d+)\\.snap$`).exec(f);
    if (!m) continue;
    const snapPath = path.join(dir, f);
    out.push({ revision: Number(m[1]), snapPath, assertPath: snapPath.replace(/\.snap$/, '.assert') });
  }
  return out.sort((a, b) => b.revision - a.revision);
}

/** The pinned revision, or the highest there is. */
export async function findSnapFile(dir: string, name: string, revision: number | undefined, channel: string | undefined): Promise<SnapFile> {
  const files = await listSnapFiles(dir, name);
  const found = revision === undefined ? files[0] : files.find((f) => f.revision === revision);
  if (found) return found;
  const have = files.length > 0 ? ` (found revisions ${files.map((f) => f.revision).join(', ')})` : '';
  const want = revision === undefined ? `${name}_*.snap` : `${name}_${revision}.snap`;
  const how = `snap download ${name}${revision !== undefined ? ` --revision ${revision}` : channel ? ` --channel ${channel}` : ''}`;
  throw new AirgapError('SNAP_NOT_FOUND', `${want} is not in ${dir}${have}`, {
    hint: `run \`${how}\` in that folder, or remove sources.snapsDir to let the bundler download it`,
  });
}
