import { AirgapError } from '@airgap/core';
import { currentLink, currentSha256, linkOwned, ownedBy, removeOwned, sha256Of, writeOwned } from '../state/owned-files.ts';
import { addDefaultRoute, defaultRoutes } from '../tools/ip.ts';
import { daemonReload } from '../tools/systemctl.ts';
import type { NodeFacts } from '../types.ts';
import { defineStep, unreachable } from './define-step.ts';

const ID = 'default-route';

export type DefaultRouteChange =
  | { kind: 'add-route'; iface: string; why: string }
  | { kind: 'write-unit'; iface: string; why: string }
  | { kind: 'enable'; why: string }
  | { kind: 'remove'; abs: string; why: string };

/*
 * Persistence: a small systemd oneshot unit, not a netplan or networkd drop-in. Nodes differ in
 * who manages the network (netplan with networkd or NetworkManager, ifupdown, cloud-init), and a
 * drop-in for the wrong renderer is silently ignored, while `netplan apply` can bounce live links.
 * Every node the k8s snap runs on has systemd, and the unit only adds the route when there is
 * none, so it never fights a network manager that later learns a real gateway.
 */
const UNIT = '/etc/systemd/system/airgap-default-route.service';
const WANTS = '/etc/systemd/system/multi-user.target.wants/airgap-default-route.service';
const IFACE = /^[A-Za-z0-9_.:-]{1,15}$/;

export function unitText(iface: string): string {
  return `# Written by the airgap applier (network.defaultRoute); re-run the applier to change it.
[Unit]
Description=airgap: default route via ${iface} when the node has none (Kubernetes needs one)
Wants=network-online.target
After=network-online.target
Before=snap.k8s.containerd.service snap.k8s.kubelet.service

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/bin/sh -c 'ip -4 route show default | grep -q . || ip -4 route add default dev ${iface}'

[Install]
WantedBy=multi-user.target
`;
}

function wantedInterface(node: NodeFacts): string | undefined {
  const iface = node.bundle.manifest.spec.network?.defaultRoute?.interface;
  if (iface !== undefined && !IFACE.test(iface))
    throw new AirgapError('BUNDLE_INVALID', `network.defaultRoute.interface ${JSON.stringify(iface)} is not an interface name`);
  return iface;
}

export const defaultRoute = defineStep({
  id: ID,
  describe: 'a default route when the node has none, kept across reboots by a systemd unit',
  skip({ node, state }) {
    if (wantedInterface(node) === undefined && ownedBy(state, ID).length === 0) return 'the bundle sets no network.defaultRoute';
    return undefined;
  },
  async read({ node }) {
    if (wantedInterface(node) === undefined) return undefined;
    return { routes: (await defaultRoutes()).length, unitSha256: await currentSha256(node.root, UNIT), link: await currentLink(node.root, WANTS) };
  },
  check({ node, state }, seen) {
    const iface = wantedInterface(node);
    const changes: DefaultRouteChange[] = [];
    if (iface === undefined || seen === undefined) {
      for (const abs of ownedBy(state, ID)) changes.push({ kind: 'remove', abs, why: 'network.defaultRoute is no longer set' });
      return changes;
    }
    if (seen.routes === 0) changes.push({ kind: 'add-route', iface, why: 'the node has no default route' });
    if (seen.unitSha256 !== sha256Of(unitText(iface)))
      changes.push({ kind: 'write-unit', iface, why: seen.unitSha256 ? 'differs from the bundle' : 'missing' });
    if (seen.link !== UNIT) changes.push({ kind: 'enable', why: 'unit not enabled' });
    return changes;
  },
  show(c) {
    switch (c.kind) {
      case 'add-route':
        return { action: c.kind, target: `default dev ${c.iface}` };
      case 'write-unit':
        return { action: 'write', target: UNIT };
      case 'enable':
        return { action: c.kind, target: WANTS };
      case 'remove':
        return { action: c.kind, target: c.abs };
      default:
        return unreachable(c);
    }
  },
  async apply(ctx, changes) {
    let reload = false;
    for (const c of changes) {
      switch (c.kind) {
        case 'add-route':
          await addDefaultRoute(c.iface);
          break;
        case 'write-unit':
          await writeOwned(ctx, { abs: UNIT, data: unitText(c.iface), mode: 0o644, step: ID });
          reload = true;
          break;
        case 'enable':
          await linkOwned(ctx, { abs: WANTS, linkTarget: UNIT, step: ID });
          reload = true;
          break;
        case 'remove':
          await removeOwned(ctx, c.abs);
          reload = true;
          break;
        default:
          unreachable(c);
      }
    }
    if (reload) await daemonReload();
  },
});
