import { resolveInside } from '@airgap/core';

/** Where the node path `abs` (e.g. `/etc/environment`) lives under `root`; refuses escapes. */
export function nodePath(root: string, abs: string): string {
  if (!abs.startsWith('/')) throw new Error(`node path ${abs} is not absolute`);
  return resolveInside(root, `.${abs}`);
}
