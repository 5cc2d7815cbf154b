import { k8sNodeReady, type Membership } from '../tools/k8s.ts';
import { KUBELET_HEALTHZ, kubeletHealthz } from '../tools/kubelet.ts';
import { snapServices } from '../tools/snap.ts';
import { releaseBefore } from './k8s-release.ts';

export interface Readiness {
  ready: boolean;
  /** How it was decided, e.g. `k8s kubectl get node cp-1 -o json`: printed and in `status --json`. */
  check: string;
  /** What the check saw, for progress lines and errors. */
  detail: string;
}

/** The services upstream expects active on a worker (tests `util.py`, `check_snap_services_ready`). */
const WORKER_SERVICES = ['containerd', 'k8sd', 'kubelet', 'k8s-apiserver-proxy'];

/**
 * Readiness that works for the role and release (k8s-cli-contract.md, "Readiness"): the API
 * server's Ready condition where this node may ask it (control planes; workers from 1.35, which
 * run `k8s kubectl` with kubelet.conf), else what the node itself can tell: kubelet's healthz and
 * the worker's snap services active.
 */
export async function nodeReadiness(k8s: string, release: string | undefined, m: Extract<Membership, { member: true }>): Promise<Readiness> {
  const kubectl = `${k8s} kubectl get node ${m.name} -o json`;
  if (m.role === 'unknown') return { ready: false, check: `${k8s} local-node-status`, detail: 'the node is joining (cluster role unknown)' };
  if (m.role === 'control-plane' || !releaseBefore(release, 1, 35)) {
    const r = await k8sNodeReady(k8s, m.name);
    if (r.ready !== 'refused') return { ready: r.ready === 'True', check: kubectl, detail: r.ready ? `Ready=${r.ready}` : `not registered yet (${r.detail})` };
  }
  return localReadiness();
}

async function localReadiness(): Promise<Readiness> {
  const check = `kubelet ${KUBELET_HEALTHZ} and snap services k8s (${WORKER_SERVICES.join(', ')} active)`;
  const [healthz, services] = await Promise.all([kubeletHealthz(), snapServices('k8s')]);
  const inactive = WORKER_SERVICES.filter((s) => services.get(s) !== 'active');
  const problems = [...(healthz === 'ok' ? [] : [`kubelet healthz: ${healthz}`]), ...(inactive.length ? [`not active: ${inactive.join(', ')}`] : [])];
  return { ready: problems.length === 0, check, detail: problems.join('; ') || 'kubelet healthy, services active' };
}
