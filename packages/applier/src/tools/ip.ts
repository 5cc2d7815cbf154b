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

export interface InterfaceAddress {
  iface: string;
  family: 'inet' | 'inet6';
  address: string;
  prefixLength: number;
  /** `global` for addresses other hosts can reach. */
  scope: string;
}

/** Every address of every interface, in the kernel's order (`ip -j addr show`). */
export async function interfaceAddresses(): Promise<InterfaceAddress[]> {
  const r = await runTool('ip', ['-j', 'addr', 'show'], { timeout: QUICK });
  const links = JSON.parse(r.stdout || '[]') as { ifname?: string; addr_info?: { family?: string; local?: string; prefixlen?: number; scope?: string }[] }[];
  return links.flatMap((l) =>
    (l.addr_info ?? [])
      .filter((a) => (a.family === 'inet' || a.family === 'inet6') && typeof a.local === 'string')
      .map((a) => ({ iface: l.ifname ?? '', family: a.family as 'inet' | 'inet6', address: a.local!, prefixLength: a.prefixlen ?? 0, scope: a.scope ?? '' })),
  );
}
