import { restartUnit, daemonReload, unitActive } from '../tools/systemctl.ts';
import type { StepView } from '../types.ts';
import { defineStep, unreachable } from './define-step.ts';
import { proxy } from './proxy.ts';

/** The one service that reads the proxy drop-in (k8s-cli-contract.md, "Services, proxy, restart"). */
export const CONTAINERD_UNIT = 'snap.k8s.containerd.service';

export type RestartChange =
  | { kind: 'restart'; why: string }
  /** containerd is not running: it reads the drop-in when it starts; only the state's restartPending is cleared. */
  | { kind: 'record'; why: string };

function owed({ changed, state }: StepView): string | undefined {
  if (changed.has(proxy.id)) return 'proxy config changed';
  return state.restartPending ? 'an earlier run changed the proxy config and stopped before restarting' : undefined;
}

/**
 * Restart containerd, and only containerd, when the proxy config changed (now or in a run that
 * died before its restart), as upstream's proxy how-to does: `snap restart k8s` would restart the
 * apiserver, datastore and kubelet of a live node too. Where containerd is not running (a node
 * that has not bootstrapped or joined yet) it reads the drop-in when it starts: nothing to do,
 * and starting it here would make the k8s pre-init check refuse the bootstrap. hosts.toml changes
 * need no restart: containerd reads hosts.d on every pull (ERRATA).
 */
export const restart = defineStep({
  id: 'restart',
  describe: `systemctl restart ${CONTAINERD_UNIT} when the proxy config changed and containerd runs`,
  // Asks systemd only when a restart is owed.
  read: async (view) => (owed(view) ? { active: await unitActive(CONTAINERD_UNIT) } : undefined),
  check(view, seen): RestartChange[] {
    const why = owed(view);
    if (!why || !seen) return [];
    if (!seen.active) return [{ kind: 'record', why: `${why}; containerd is not running, it reads the drop-in when it starts` }];
    return [{ kind: 'restart', why }];
  },
  show: (c) => ({ action: c.kind, target: CONTAINERD_UNIT }),
  async apply(ctx, changes) {
    for (const c of changes) {
      switch (c.kind) {
        case 'restart':
          // Reload here too: a run killed between writing the drop-in and reloading must not restart with stale units.
          await daemonReload();
          await restartUnit(CONTAINERD_UNIT);
          break;
        case 'record':
          break;
        default:
          unreachable(c);
      }
    }
    await ctx.record.restartPending(false);
  },
});
