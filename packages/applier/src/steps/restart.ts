import { restartUnit, daemonReload, unitActive } from '../tools/systemctl.ts';
import type { Step } from '../types.ts';

/** The one service that reads the proxy drop-in (k8s-cli-contract.md, "Services, proxy, restart"). */
export const CONTAINERD_UNIT = 'snap.k8s.containerd.service';

/**
 * Restart containerd, and only containerd, when the proxy config changed (now or in a run that
 * died before its restart), as upstream's proxy how-to does: `snap restart k8s` would restart the
 * apiserver, datastore and kubelet of a live node too. Where containerd is not running (a node
 * that has not bootstrapped or joined yet) it reads the drop-in when it starts: nothing to do,
 * and starting it here would make the k8s pre-init check refuse the bootstrap. hosts.toml changes
 * need no restart: containerd reads hosts.d on every pull (ERRATA).
 */
export const restart: Step = {
  id: 'restart',
  describe: () => `systemctl restart ${CONTAINERD_UNIT} when the proxy config changed and containerd runs`,
  async check(node) {
    const why = node.changedSteps.has('proxy') ? 'proxy config changed' : node.state.value.restartPending ? 'an earlier run changed the proxy config and stopped before restarting' : undefined;
    if (!why) return [];
    if (!(await unitActive(CONTAINERD_UNIT))) return [{ action: 'record', target: CONTAINERD_UNIT, why: `${why}; containerd is not running, it reads the drop-in when it starts` }];
    return [{ action: 'restart', target: CONTAINERD_UNIT, why }];
  },
  async apply(node, changes) {
    for (const c of changes) {
      if (c.action === 'restart') {
        // Reload here too: a run killed between writing the drop-in and reloading must not restart with stale units.
        await daemonReload();
        await restartUnit(CONTAINERD_UNIT);
      }
    }
    node.state.value.restartPending = false;
    await node.state.save();
  },
};
