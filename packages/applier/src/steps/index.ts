import type { Step } from '../types.ts';
import { cluster } from './cluster.ts';
import { containerdHosts } from './containerd-hosts.ts';
import { defaultRoute } from './default-route.ts';
import { images } from './images.ts';
import { preflight } from './preflight.ts';
import { proxy } from './proxy.ts';
import { restart } from './restart.ts';
import { snaps } from './snaps.ts';

/** In order: each step may rely on the ones before it (images need containerd's config, cluster needs the snaps). */
export const STEPS: readonly Step[] = [preflight, defaultRoute, snaps, containerdHosts, proxy, images, restart, cluster];
