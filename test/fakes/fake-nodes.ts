import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { createNetns, type TestNetns } from '../support/netns.ts';

export const fakeBin = path.resolve(import.meta.dirname, '../fixtures/bin');
export const RELEASES = ['1.32', '1.33', '1.34', '1.35', '1.36'] as const;
export type Release = (typeof RELEASES)[number];

export interface Run {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** One fake node: its own FAKE_* folders and network namespace, the k8s snap installed. */
export interface FakeNode {
  dir: string;
  root: string;
  nodeDir: string;
  netns: TestNetns;
  env: Record<string, string>;
  /** Run test/fixtures/bin/TOOL inside the node's netns (and UTS namespace named `hostname`). */
  run(tool: 'k8s' | 'snap' | 'systemctl', args: string[], extraEnv?: Record<string, string>): Promise<Run>;
  /** Any command inside the node's netns, as a child process (listeners). */
  spawn(cmd: string, args: string[]): ResultPromise;
  k8sJson(): Promise<{ member: boolean; role?: string; name?: string; address?: string }>;
}

const cleanups: (() => Promise<void>)[] = [];

/** Remove every node made so far: node dirs first (kubelet stand-ins exit), then their netns. */
export async function removeNodes(): Promise<void> {
  await Promise.all(cleanups.splice(0).map((c) => c()));
}

async function gone(pid: number): Promise<boolean> {
  for (let i = 0; i < 100; i++) {
    try {
      process.kill(pid, 0);
    } catch {
      return true;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

/** The kubelet stand-in's pid, if it wrote one. */
export async function kubeletPid(node: FakeNode): Promise<number | undefined> {
  const text = await readFile(path.join(node.nodeDir, 'kubelet.pid'), 'utf8').catch(() => '');
  return text ? Number(text) : undefined;
}

/** Wait until `pid` has exited (true) or 5 s passed (false). */
export const exited = gone;

export async function makeNode(o: { release: Release; clusterDir?: string; hostname?: string; k8sInstalled?: boolean }): Promise<FakeNode> {
  const dir = await mkdtemp(path.join(tmpdir(), 'airgap-fake-'));
  const root = path.join(dir, 'root');
  const nodeDir = path.join(dir, 'node');
  const helmDir = path.join(dir, 'helm-bin');
  await mkdir(root);
  await mkdir(nodeDir);
  await mkdir(helmDir);
  // A stand-in helm so "runs helm" is visible: it prints its arguments and KUBECONFIG.
  await writeFile(path.join(helmDir, 'helm'), '#!/bin/sh\necho "helm ran: $* KUBECONFIG=$KUBECONFIG"\n');
  await chmod(path.join(helmDir, 'helm'), 0o755);
  if (o.k8sInstalled ?? true) await writeFile(path.join(nodeDir, 'snaps.json'), JSON.stringify({ k8s: { revision: 1, classic: true } }));
  const netns = await createNetns({ defaultRoute: true });
  const env = {
    PATH: `${fakeBin}:${helmDir}:${process.env.PATH ?? ''}`,
    FAKE_NODE_DIR: nodeDir,
    FAKE_CLUSTER_DIR: o.clusterDir ?? path.join(dir, 'cluster'),
    FAKE_ROOT: root,
    FAKE_CALL_LOG: path.join(dir, 'calls.log'),
    FAKE_K8S_RELEASE: o.release,
  };
  const uts = o.hostname ? ['unshare', '--uts', 'sh', '-c', 'hostname "$0" && exec "$@"', o.hostname] : [];
  const node: FakeNode = {
    dir,
    root,
    nodeDir,
    netns,
    env,
    async run(tool, args, extraEnv = {}) {
      const r = await execa('ip', ['netns', 'exec', netns.name, ...uts, path.join(fakeBin, tool), ...args], {
        env: { ...env, ...extraEnv },
        extendEnv: false,
        reject: false,
        stripFinalNewline: false,
        timeout: 30_000,
      });
      return { exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
    },
    spawn(cmd, args) {
      return execa('ip', ['netns', 'exec', netns.name, cmd, ...args], { reject: false, buffer: false });
    },
    async k8sJson() {
      return JSON.parse(await readFile(path.join(nodeDir, 'k8s.json'), 'utf8').catch(() => '{"member":false}')) as { member: boolean };
    },
  };
  cleanups.push(async () => {
    const pid = await kubeletPid(node);
    await rm(nodeDir, { recursive: true, force: true });
    if (pid) await gone(pid);
    await netns.remove();
    await rm(dir, { recursive: true, force: true });
  });
  return node;
}

/** A cluster of one control plane ("cp-1"), one worker ("worker-1") and a node that is no member. */
export async function makeCluster(release: Release): Promise<{ cp: FakeNode; worker: FakeNode; outsider: FakeNode }> {
  const cp = await makeNode({ release });
  const clusterDir = cp.env.FAKE_CLUSTER_DIR!;
  const worker = await makeNode({ release, clusterDir });
  const outsider = await makeNode({ release, clusterDir: path.join(cp.dir, 'other-cluster') });
  const boot = await cp.run('k8s', ['bootstrap', '--name', 'cp-1']);
  if (boot.exitCode !== 0) throw new Error(`bootstrap failed: ${boot.stderr}`);
  const token = (await cp.run('k8s', ['get-join-token', 'worker-1', '--worker'])).stdout.trim();
  const join = await worker.run('k8s', ['join-cluster', token, '--name', 'worker-1']);
  if (join.exitCode !== 0) throw new Error(`join failed: ${join.stderr}`);
  return { cp, worker, outsider };
}
