import { homedir } from 'node:os';
import path from 'node:path';

/** `AIRGAP_CACHE_DIR`, else `$XDG_CACHE_HOME/airgap`, else `~/.cache/airgap`. */
export function defaultCacheDir(): string {
  if (process.env.AIRGAP_CACHE_DIR) return path.resolve(process.env.AIRGAP_CACHE_DIR);
  if (process.env.XDG_CACHE_HOME) return path.join(process.env.XDG_CACHE_HOME, 'airgap');
  return path.join(homedir(), '.cache', 'airgap');
}
