import { cluster } from './cluster.ts';
import { containerdHosts } from './containerd-hosts.ts';
import { defaultRoute } from './default-route.ts';
import type { RunnableStep } from './define-step.ts';
import { images } from './images.ts';
import { proxy } from './proxy.ts';
import { prune } from './prune.ts';
import { restart } from './restart.ts';
import { snaps } from './snaps.ts';
import { workloads } from './workloads.ts';

/**
 * In order: each step may rely on the ones before it (images need containerd's config, cluster
 * needs the snaps). Preflight is not a step: it runs before all of them (preflight.ts).
 */
export const STEPS: readonly RunnableStep[] = [defaultRoute, snaps, containerdHosts, proxy, images, prune, restart, cluster, workloads];
