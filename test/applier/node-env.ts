import { createHash } from 'node:crypto';
import { lstat, mkdir, readdir, readFile, readlink } from 'node:fs/promises';
import path from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { onTestFinished } from 'vitest';
import type { CliResult } from '../support/cli.ts';
import { createNetns, type TestNetns } from '../support/netns.ts';
import { testdir } from '../support/tmpdir.ts';

const fakeBin = path.resolve(import.meta.dirname, '../fixtures/bin');
const applierJs = path.resolve(import.meta.dirname, '../../dist/applier.mjs');
/** The applier with the checkpoint hook (test/support/applier-test-entry.ts): only for runs stopped at AIRGAP_TEST_PAUSE_AT. */
const applierTestJs = path.resolve(import.meta.dirname, '../../dist/applier-test.mjs');

export interface TestNode {
  root: string;
  work: string;
  netns: TestNetns;
  env: { PATH: string; FAKE_NODE_DIR: string; FAKE_CALL_LOG: string; FAKE_CLUSTER_DIR: string; FAKE_ROOT: string; AIRGAP_READY_POLL_MS: string };
  /** Calls of the fake snap/k8s/systemctl, one "tool args" line each. */
  calls(): Promise<string[]>;
  applier(args: string[], extraEnv?: Record<string, string>): Promise<CliResult>;
  /** The applier as a child process, for tests that kill it; with AIRGAP_TEST_PAUSE_AT, the test build that pauses there. */
  spawnApplier(args: string[], extraEnv?: Record<string, string>): ResultPromise;
  /** The fake k8s as an admin on this node would run it. */
  k8s(args: string[], extraEnv?: Record<string, string>): Promise<CliResult>;
}

/**
 * A node for one test: a --root tree, a network namespace the applier (and so the fake k8s and
 * its kubelet stand-in on 127.0.0.1:10248) runs in, fake snap/k8s/systemctl with their own state,
 * and no containerd unless the test passes one. `hostname` runs it in a UTS namespace of that name;
 * `release` is the k8s release the fake behaves as (FAKE_K8S_RELEASE).
 */
export async function makeNode(o: { defaultRoute?: boolean; clusterDir?: string; hostname?: string; release?: string } = {}): Promise<TestNode> {
  const work = await testdir();
  const root = path.join(work, 'root');
  await mkdir(root);
  const netns = await createNetns({ defaultRoute: o.defaultRoute ?? true });
  onTestFinished(() => netns.remove());
  const env = {
    PATH: `${netns.binDir}:${fakeBin}:${process.env.PATH ?? ''}`,
    FAKE_NODE_DIR: path.join(work, 'fake-node'),
    FAKE_CALL_LOG: path.join(work, 'calls.log'),
    FAKE_CLUSTER_DIR: o.clusterDir ?? path.join(work, 'cluster'),
    FAKE_ROOT: root,
    AIRGAP_READY_POLL_MS: '10',
    FAKE_K8S_RELEASE: o.release ?? '1.34',
  };
  const calls = async () => (await readFile(env.FAKE_CALL_LOG, 'utf8').catch(() => '')).split('\n').filter(Boolean);
  // verify takes --root alone: it reads no k8s and no containerd (and refuses options it does not take).
  const readsNode = (args: string[]) => args[0] !== 'verify';
  const fullArgs = (args: string[]) => [
    ...args,
    '--root',
    root,
    ...(args.includes('--k8s') || !readsNode(args) ? [] : ['--k8s', path.join(fakeBin, 'k8s')]),
    ...(args.includes('--containerd-address') || !readsNode(args) ? [] : ['--containerd-address', path.join(work, 'no-containerd.sock')]),
  ];
  const uts = o.hostname ? ['unshare', '--uts', 'sh', '-c', 'hostname "$0" && exec "$@"', o.hostname] : [];
  const spawnApplier = (args: string[], extraEnv: Record<string, string> = {}) => {
    const js = 'AIRGAP_TEST_PAUSE_AT' in extraEnv ? applierTestJs : applierJs;
    return execa('ip', ['netns', 'exec', netns.name, ...uts, process.execPath, js, ...fullArgs(args)], {
      env: { ...env, ...extraEnv },
      reject: false,
      timeout: 120_000,
    });
  };
  const applier = async (args: string[], extraEnv: Record<string, string> = {}): Promise<CliResult> => {
    const r = await spawnApplier(args, extraEnv);
    return { exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
  };
  const k8s = async (args: string[], extraEnv: Record<string, string> = {}): Promise<CliResult> => {
    const r = await execa('ip', ['netns', 'exec', netns.name, ...uts, path.join(fakeBin, 'k8s'), ...args], {
      env: { ...env, ...extraEnv },
      reject: false,
      timeout: 60_000,
    });
    return { exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
  };
  return { root, work, netns, env, calls, applier, spawnApplier, k8s };
}

/** What a converged node looks like: its tree and the snaps and cluster membership of its fake snapd and k8s. */
export async function nodeSnapshot(node: TestNode): Promise<{ tree: Record<string, string>; snaps: unknown; member: boolean }> {
  const snaps = JSON.parse(await readFile(path.join(node.env.FAKE_NODE_DIR, 'snaps.json'), 'utf8')) as unknown;
  const k8s = JSON.parse(await readFile(path.join(node.env.FAKE_NODE_DIR, 'k8s.json'), 'utf8')) as { member: boolean };
  return { tree: await hashTree(node.root), snaps, member: k8s.member };
}

/** Every path under dir with its type, mode and content hash (or link target): equal trees, equal maps. */
export async function hashTree(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (d: string) => {
    for (const name of (await readdir(d).catch(() => [] as string[])).sort()) {
      const p = path.join(d, name);
      const rel = path.relative(dir, p);
      // The apply history holds times: nodes that converged alike differ there (history.test.ts reads it).
      if (rel === 'var/lib/airgap/history.jsonl') continue;
      const s = await lstat(p);
      const mode = (s.mode & 0o7777).toString(8);
      if (s.isSymbolicLink()) out[rel] = `link ${await readlink(p)}`;
      else if (s.isDirectory()) {
        out[rel] = `dir ${mode}`;
        await walk(p);
      } else
        out[rel] = `file ${mode} ${createHash('sha256')
          .update(await readFile(p))
          .digest('hex')}`;
    }
  };
  await walk(dir);
  return out;
}
