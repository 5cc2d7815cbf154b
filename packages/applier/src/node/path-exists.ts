import { lstat, stat } from 'node:fs/promises';

export async function pathExists(p: string): Promise<boolean> {
  return lstat(p).then(
    () => true,
    () => false,
  );
}

export async function isSocket(p: string): Promise<boolean> {
  return stat(p).then(
    (s) => s.isSocket(),
    () => false,
  );
}
