import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { addNodeNetns, type FleetNet } from './fleet-net.ts';

/*
 * Simulated nodes: one --root tree each on this machine, driven by Ansible over
 * `ansible_connection=local`, not with an sshd each. What the role does on a node — copy files,
 * check sha256, run the applier and `k8s` with the node's environment — is the same over both
 * connections; the local one needs no sshd or keys, and keeps every node's tree, fake snapd/k8s
 * state and call log in one temp folder the test can read. What a real fleet has that this keeps
 * per node:
 * - a network: its own namespace and address (10.78.0.11, .12, …) on a bridge (fleet-net.ts);
 *   the node's Python (ansible_python_interpreter, airgap_python) is a wrapper that runs in that
 *   namespace, so every module, the port preflight's listeners and connections, and the applier
 *   run there, and a firewall rule in one node's namespace blocks what it would on a real node;
 * - a hostname: the applier wrapper runs in its own UTS namespace (`unshare --uts`) with the
 *   node's hostname, which may differ from its inventory name and be mixed-case (`Worker-B`, whose
 *   name in k8s is `worker-b`), so the applier's node name and the fake k8s's join-token check
 *   see what a real node would;
 * - its release: the fake k8s behaves as FAKE_K8S_RELEASE (1.32 refuses `k8s kubectl` on workers);
 * - its own fake snapd/k8s state ($FAKE_NODE_DIR), while join tokens live in a registry shared by
 *   the cluster ($FAKE_CLUSTER_DIR), as a real cluster shares them through its datastore.
 */

const repo = path.resolve(import.meta.dirname, '../..');
const fakeBin = path.join(repo, 'test/fixtures/bin');
/** The fake k8s, by path as the role runs it (airgap_k8s; /snap/bin/k8s on a real node). */
export const FAKE_K8S = path.join(fakeBin, 'k8s');
export const PLAYBOOK_DIR = path.join(repo, 'examples/ansible');

export interface FleetNode {
  /** Inventory name. */
  name: string;
  /** The node's hostname: its name in k8s is this, lowercased. */
  hostname: string;
  group: 'control_plane' | 'workers';
  address: string;
  netns: string;
  /** Python in the node's network namespace. */
  python: string;
  root: string;
  env: Record<string, string>;
  calls(): Promise<string[]>;
}

export interface FleetNodeOptions {
  index: number;
  group: FleetNode['group'];
  net: FleetNet;
  /** Defaults to the inventory name, `node<index>`. */
  hostname?: string;
  /** The fake k8s's release (FAKE_K8S_RELEASE); 1.32 unless given. */
  release?: string;
}

/** A node's tree and fake-tool state under work/NAME; tokens shared through work/cluster. */
export async function makeFleetNode(work: string, o: FleetNodeOptions): Promise<FleetNode> {
  const name = `node${o.index}`;
  const hostname = o.hostname ?? name;
  const dir = path.join(work, name);
  const root = path.join(dir, 'root');
  await mkdir(root, { recursive: true });
  const { netns, address } = await addNodeNetns(o.net, o.index);
  const python = path.join(dir, 'python3');
  await writeFile(python, `#!/bin/sh\nexec ip netns exec ${netns} /usr/bin/python3 "$@"\n`);
  await chmod(python, 0o755);
  const env = {
    PATH: `${fakeBin}:${process.env.PATH ?? ''}`,
    FAKE_NODE_DIR: path.join(dir, 'fake-node'),
    FAKE_CALL_LOG: path.join(dir, 'calls.log'),
    FAKE_CLUSTER_DIR: path.join(work, 'cluster'),
    FAKE_ROOT: root,
    AIRGAP_READY_POLL_MS: '10',
    FAKE_K8S_RELEASE: o.release ?? '1.32',
    FLEET_HOSTNAME: hostname,
  };
  const calls = async () => (await readFile(env.FAKE_CALL_LOG, 'utf8').catch(() => '')).split('\n').filter(Boolean);
  return { name, hostname, group: o.group, address, netns, python, root, env, calls };
}

/** Stand-in for the standalone applier: the built CLI, run under the node's own hostname. */
export async function writeApplierWrapper(work: string): Promise<string> {
  const file = path.join(work, 'applier');
  const script = `exec "$0" ${JSON.stringify(path.join(repo, 'dist/applier.mjs'))} "$@"`;
  await writeFile(file, `#!/bin/sh\nexec unshare --uts /bin/sh -c 'hostname "$FLEET_HOSTNAME" && ${script}' ${JSON.stringify(process.execPath)} "$@"\n`);
  await chmod(file, 0o755);
  return file;
}

export interface FleetFiles {
  bundle: string;
  pub: string;
  applier: string;
}

/** A YAML (JSON) inventory: groups control_plane and workers, each host with its root, address, Python and environment. */
export async function writeInventory(work: string, nodes: FleetNode[], files: FleetFiles): Promise<string> {
  const hosts = (group: FleetNode['group']) =>
    Object.fromEntries(
      nodes
        .filter((n) => n.group === group)
        .map((n) => [
          n.name,
          {
            ansible_host: n.address,
            ansible_python_interpreter: n.python,
            airgap_python: n.python,
            airgap_root: n.root,
            airgap_environment: n.env,
            airgap_k8s: FAKE_K8S,
          },
        ]),
    );
  const inventory = {
    all: {
      vars: {
        ansible_connection: 'local',
        ansible_python_interpreter: '/usr/bin/python3',
        airgap_become: false,
        airgap_bundle: files.bundle,
        airgap_pub: files.pub,
        airgap_applier: files.applier,
        airgap_wait_timeout: 60,
        airgap_ready_delay: 1,
        airgap_port_timeout: 2,
      },
      children: { control_plane: { hosts: hosts('control_plane') }, workers: { hosts: hosts('workers') } },
    },
  };
  const file = path.join(work, 'inventory.yml');
  await writeFile(file, JSON.stringify(inventory, null, 2));
  return file;
}

export interface PlaybookRun {
  exitCode: number;
  stdout: string;
  /** PLAY RECAP: host → counters (ok, changed, unreachable, failed, skipped, …). */
  recap: Record<string, Record<string, number>>;
}

export async function runPlaybook(work: string, inventory: string, extraArgs: string[] = []): Promise<PlaybookRun> {
  const tmp = path.join(work, 'ansible-tmp');
  const r = await execa('ansible-playbook', ['-i', inventory, 'site.yml', ...extraArgs], {
    cwd: PLAYBOOK_DIR,
    reject: false,
    timeout: 300_000,
    all: true,
    env: {
      ANSIBLE_NOCOLOR: '1',
      ANSIBLE_HOME: tmp,
      ANSIBLE_LOCAL_TEMP: path.join(tmp, 'local'),
      ANSIBLE_REMOTE_TEMP: path.join(tmp, 'remote'),
      ANSIBLE_RETRY_FILES_ENABLED: 'false',
      ANSIBLE_DEPRECATION_WARNINGS: 'false',
    },
  });
  return { exitCode: r.exitCode ?? -1, stdout: String(r.all), recap: parseRecap(String(r.stdout)) };
}

export function parseRecap(stdout: string): PlaybookRun['recap'] {
  const recap: PlaybookRun['recap'] = {};
  const section = stdout.slice(stdout.lastIndexOf('PLAY RECAP'));
  for (const m of section.matchAll(/^(\S+)\s+:\s+(.*)$/gm)) {
    recap[m[1]!] = Object.fromEntries([...m[2]!.matchAll(/(\w+)=(\d+)/g)].map((c) => [c[1]!, Number(c[2])]));
  }
  return recap;
}
