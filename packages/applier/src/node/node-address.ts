import { isIP } from 'node:net';
import { AirgapError, type Spec } from '@airgap/core';
import { interfaceAddresses, type InterfaceAddress } from '../tools/ip.ts';

/**
 * The address k8s advertises for this node. Without `--address` k8s takes the first global
 * address of the first interface (k8s-snap `pkg/utils/cidr.go`, `ParseAddressString("")`), which
 * on a node with two NICs is often not the cluster network; the upstream offline guide bootstraps
 * with `--address`. `--address IP` wins over the spec's `cluster.address`; neither: k8s decides.
 */
export async function nodeAddress(o: { flag: string | undefined; spec: Spec }): Promise<string | undefined> {
  if (o.flag !== undefined) {
    if (isIP(o.flag) === 0)
      throw new AirgapError('USAGE', `--address ${o.flag} is not an IP address`, {
        hint: 'give the address this node has on the cluster network, e.g. --address 10.0.0.11',
      });
    return o.flag;
  }
  const want = o.spec.cluster?.address;
  if (!want) return undefined;
  const global = (await interfaceAddresses()).filter((a) => a.scope === 'global');
  if ('fromInterface' in want) {
    const found = global.filter((a) => a.iface === want.fromInterface);
    const pick = found.find((a) => a.family === 'inet') ?? found[0];
    if (!pick) throw noAddress(`interface ${want.fromInterface} has no global address`, global);
    return pick.address;
  }
  const pick = global.find((a) => inCidr(a.address, want.cidr));
  if (!pick) throw noAddress(`no address of this node is in ${want.cidr}`, global);
  return pick.address;
}

function noAddress(why: string, have: InterfaceAddress[]): AirgapError {
  const list = have.map((a) => `${a.iface} ${a.address}/${a.prefixLength}`).join(', ') || 'none';
  return new AirgapError('STEP_FAILED', `cluster.address: ${why} (this node has: ${list})`, {
    hint: 'fix cluster.address in airgap.yaml, or pass --address IP to the applier on this node',
  });
}

/** IPv4 or IPv6 `address` inside `cidr` (`10.0.0.0/24`, `fd00::/64`). */
export function inCidr(address: string, cidr: string): boolean {
  const [net, bits] = cidr.split('/');
  const a = toBigInt(address);
  const n = toBigInt(net ?? '');
  if (a === undefined || n === undefined || a.width !== n.width) return false;
  const prefix = BigInt(Number(bits ?? n.width));
  const shift = BigInt(n.width) - prefix;
  return a.value >> shift === n.value >> shift;
}

function toBigInt(ip: string): { value: bigint; width: number } | undefined {
  if (isIP(ip) === 4) return { value: ip.split('.').reduce((v, o) => (v << 8n) | BigInt(Number(o)), 0n), width: 32 };
  if (isIP(ip) !== 6) return undefined;
  const [head = '', tail = ''] = ip.split('::');
  const part = (s: string) => (s ? s.split(':') : []);
  const h = part(head);
  const t = part(tail);
  const groups = ip.includes('::') ? [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t] : h;
  return { value: groups.reduce((v, g) => (v << 16n) | BigInt(parseInt(g, 16)), 0n), width: 128 };
}
