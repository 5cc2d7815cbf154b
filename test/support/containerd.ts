import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import { onTestFinished } from 'vitest';
import { startDaemon } from './daemon.ts';

export interface TestContainerd {
  /** grpc socket, for `ctr --address`. */
  address: string;
  /** Temp folder holding containerd's root, state, config and log. */
  root: string;
  stop(): Promise<void>;
}

/**
 * A real containerd (the system's, 1.6) as a child process with its own root, state and unique
 * sockets (grpc, ttrpc, debug), CRI disabled. Resolves once `ctr version` answers.
 */
export async function startContainerd(): Promise<TestContainerd> {
  const root = await mkdtemp(path.join(tmpdir(), 'airgap-ctd-'));
  const address = path.join(root, 'c.sock');
  const config = path.join(root, 'config.toml');
  await writeFile(
    config,
    [
      'version = 2',
      `root = "${root}/root"`,
      `state = "${root}/state"`,
      'disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs"]',
      '[grpc]',
      `  address = "${address}"`,
      '[ttrpc]',
      `  address = "${address}.ttrpc"`,
      '[debug]',
      `  address = "${root}/debug.sock"`,
      '[metrics]',
      '  address = ""',
      '',
    ].join('\n'),
  );
  const { child, stop } = await startDaemon({ command: 'containerd', args: ['--config', config], log: path.join(root, 'containerd.log'), dir: root });
  for (let i = 0; i < 300; i++) {
    if (child.exitCode !== null) break;
    const r = await execa('ctr', ['--address', address, 'version'], { reject: false, timeout: 5000 });
    if (r.exitCode === 0) return { address, root, stop };
    await sleep(100);
  }
  await stop();
  throw new Error(`containerd did not start (see its log in ${root}/containerd.log)`);
}

/** A real containerd for one test, stopped when the test finishes. */
export async function containerdForTest(): Promise<TestContainerd> {
  const c = await startContainerd();
  onTestFinished(() => c.stop());
  return c;
}

/** The real `ctr` against a test containerd, in the k8s.io namespace the applier imports into. */
export const ctr = (address: string, ...args: string[]) => execa('ctr', ['--address', address, '--namespace', 'k8s.io', ...args]);

/**
 * Ref → one column of the real `ctr images ls` (REF TYPE DIGEST SIZE PLATFORMS LABELS): the target
 * digest, or the labels (`-` for none). SIZE is two words ("1.2 KiB"), so LABELS is read as the last.
 */
export async function ctrImages(address: string, column: 'digest' | 'labels'): Promise<Record<string, string>> {
  const rows = String((await ctr(address, 'images', 'ls')).stdout)
    .split('\n')
    .slice(1)
    .filter(Boolean)
    .map((l) => l.trim().split(/\s+/));
  return Object.fromEntries(rows.map((cols) => [cols[0]!, (column === 'digest' ? cols[2] : cols.at(-1))!]));
}
