import { snapRestart } from '../tools/snap.ts';
import { daemonReload } from '../tools/systemctl.ts';
import type { Step } from '../types.ts';

/**
 * `snap restart k8s` only when the proxy config changed (now or in a run that died before its
 * restart). hosts.toml changes need no restart: containerd reads hosts.d on every pull (ERRATA).
 */
export const restart: Step = {
  id: 'restart',
  describe: () => 'snap restart k8s when the proxy config changed',
  check(node) {
    if (node.changedSteps.has('proxy')) return Promise.resolve([{ action: 'restart', target: 'k8s', why: 'proxy config changed' }]);
    if (node.state.value.restartPending) return Promise.resolve([{ action: 'restart', target: 'k8s', why: 'an earlier run changed the proxy config and stopped before restarting' }]);
    return Promise.resolve([]);
  },
  async apply(node) {
    // Reload here too: a run killed between writing the drop-in and reloading must not restart with stale units.
    await daemonReload();
    await snapRestart('k8s');
    node.state.value.restartPending = false;
    await node.state.save();
  },
};
