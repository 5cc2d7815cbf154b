import { runTool } from '@airgap/core';
import { QUICK } from './exec-tool.ts';

/** Lines of `ip route show default` (IPv4): empty when the node has no default route. */
export async function defaultRoutes(): Promise<string[]> {
  const r = await runTool('ip', ['-4', 'route', 'show', 'default'], { timeout: QUICK });
  return r.stdout.split('\n').filter((l) => l.trim() !== '');
}

export async function addDefaultRoute(iface: string): Promise<void> {
  await runTool('ip', ['-4', 'route', 'add', 'default', 'dev', iface], { timeout: QUICK });
}
