import { AirgapError } from '@airgap/core';
import { currentLink, currentSha256, linkOwned, ownedBy, removeOwned, sha256Of, writeOwned } from '../state/owned-files.ts';
import { addDefaultRoute, defaultRoutes } from '../tools/ip.ts';
import { daemonReload } from '../tools/systemctl.ts';
import type { Change, Node, Step } from '../types.ts';

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

function wantedInterface(node: Node): string | undefined {
  const iface = node.bundle.manifest.spec.network?.defaultRoute?.interface;
  if (iface !== undefined && !IFACE.test(iface)) throw new AirgapError('BUNDLE_INVALID', `network.defaultRoute.interface ${JSON.stringify(iface)} is not an interface name`);
  return iface;
}

export const defaultRoute: Step = {
  id: 'default-route',
  describe: () => 'a default route when the node has none, kept across reboots by a systemd unit',
  skip(node) {
    if (wantedInterface(node) === undefined && ownedBy(node, 'default-route').length === 0) return 'the bundle sets no network.defaultRoute';
    return undefined;
  },
  async check(node) {
    const iface = wantedInterface(node);
    const changes: Change[] = [];
    if (iface === undefined) {
      for (const abs of ownedBy(node, 'default-route')) changes.push({ action: 'remove', target: abs, why: 'network.defaultRoute is no longer set' });
      return changes;
    }
    if ((await defaultRoutes()).length === 0) changes.push({ action: 'add-route', target: `default dev ${iface}`, why: 'the node has no default route' });
    const unit = unitText(iface);
    const have = await currentSha256(node, UNIT);
    if (have !== sha256Of(unit)) changes.push({ action: 'write', target: UNIT, why: have ? 'differs from the bundle' : 'missing' });
    if ((await currentLink(node, WANTS)) !== UNIT) changes.push({ action: 'enable', target: WANTS, why: 'unit not enabled' });
    return changes;
  },
  async apply(node, changes) {
    const iface = wantedInterface(node);
    let reload = false;
    for (const c of changes) {
      if (c.action === 'add-route' && iface) await addDefaultRoute(iface);
      if (c.action === 'write' && iface) await writeOwned(node, { abs: UNIT, data: unitText(iface), mode: 0o644, step: 'default-route' });
      if (c.action === 'enable') await linkOwned(node, { abs: WANTS, linkTarget: UNIT, step: 'default-route' });
      if (c.action === 'remove') await removeOwned(node, c.target);
      reload ||= c.action !== 'add-route';
    }
    if (reload) await daemonReload();
  },
};
