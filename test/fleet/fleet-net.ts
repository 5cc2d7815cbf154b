import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { execa } from 'execa';
import { afterEach } from 'vitest';

/*
 * The simulated fleet's network: one namespace per node, each with lo and an eth0 (veth) plugged
 * into a bridge that lives in a "switch" namespace of its own. The nodes' addresses, the
 * preflight's listeners and connections and the test's firewall rules (nft, in the destination
 * node's namespace) are all real, and none of it touches this machine's own network.
 */

const SUBNET = '10.78.0';
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const ip = (args: string[]) => execa('ip', args);

export interface FleetNet {
  /** Namespace names start with it: `${prefix}-switch`, `${prefix}-n1`, … */
  prefix: string;
}

/** The switch: a bridge, and nothing else in its namespace. */
export async function createFleetNet(): Promise<FleetNet> {
  const prefix = `airgap-fleet-${randomBytes(3).toString('hex')}`;
  const sw = `${prefix}-switch`;
  await ip(['netns', 'add', sw]);
  cleanups.push(() => ip(['netns', 'delete', sw]));
  await ip(['-n', sw, 'link', 'add', 'br0', 'type', 'bridge']);
  await ip(['-n', sw, 'link', 'set', 'br0', 'up']);
  return { prefix };
}

/**
 * Node `index`'s namespace at SUBNET.(10+index). Its default route (the applier refuses a node
 * without one) is `unreachable`: nothing a node sends leaves the fleet's subnet, and a name
 * lookup fails at once instead of waiting for a nameserver it cannot reach.
 */
export async function addNodeNetns(net: FleetNet, index: number): Promise<{ netns: string; address: string }> {
  const netns = `${net.prefix}-n${index}`;
  const address = `${SUBNET}.${10 + index}`;
  const port = `n${index}`;
  await ip(['netns', 'add', netns]);
  cleanups.push(async () => {
    await endProcessesIn(netns);
    await ip(['netns', 'delete', netns]);
  });
  await ip(['-n', netns, 'link', 'set', 'lo', 'up']);
  await ip(['-n', netns, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', port, 'netns', `${net.prefix}-switch`]);
  await ip(['-n', `${net.prefix}-switch`, 'link', 'set', port, 'master', 'br0', 'up']);
  await ip(['-n', netns, 'addr', 'add', `${address}/24`, 'dev', 'eth0']);
  await ip(['-n', netns, 'link', 'set', 'eth0', 'up']);
  await ip(['-n', netns, 'route', 'add', 'unreachable', 'default']);
  return { netns, address };
}

/**
 * Everything the test left running in a node's namespace: the fake's kubelet stand-ins (one per
 * bootstrap or join), a port-check stand-in a failed play did not stop. Each was started by this
 * test inside the namespace, so its pid is in `ip netns pids`; a process left there would keep
 * the namespace alive after `ip netns delete` and answer on the next test's addresses.
 */
async function endProcessesIn(netns: string): Promise<void> {
  const pids = async () =>
    String((await ip(['netns', 'pids', netns])).stdout)
      .split('\n')
      .filter(Boolean)
      .map(Number);
  for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
    const left = await pids();
    if (left.length === 0) return;
    for (const pid of left) {
      try {
        process.kill(pid, signal);
      } catch {
        // Exited meanwhile.
      }
    }
    for (let i = 0; i < 100 && (await pids()).length > 0; i++) await new Promise((r) => setTimeout(r, 50));
  }
  const stuck = await pids();
  if (stuck.length > 0) throw new Error(`processes ${stuck.join(', ')} in ${netns} outlived SIGKILL`);
}

interface NetNode {
  name: string;
  netns: string;
  address: string;
}

/**
 * Firewall of `node`: TCP (or UDP) to `port` from `from` (every node if omitted) rejected
 * (refused: a TCP reset, or ICMP port-unreachable for UDP) or dropped (no answer).
 */
export async function block(node: NetNode, o: { port: number; proto?: 'tcp' | 'udp'; from?: NetNode; how: 'reject' | 'drop' }): Promise<void> {
  const proto = o.proto ?? 'tcp';
  const match = `${o.from ? `ip saddr ${o.from.address} ` : ''}${proto} dport ${o.port}`;
  const verdict = o.how === 'drop' ? 'drop' : proto === 'tcp' ? 'reject with tcp reset' : 'reject';
  // Added to the table a call before made, if any.
  const ruleset = `table inet fleet-test {\n chain input {\n  type filter hook input priority 0; policy accept;\n  ${match} ${verdict}\n }\n}\n`;
  await execa('ip', ['netns', 'exec', node.netns, 'nft', '-f', '-'], { input: ruleset });
}

export interface HeldPort {
  /** Addresses that connected so far, sorted, each once. */
  peers(): string[];
  alive(): boolean;
}

// SO_REUSEADDR as Go's net.Listen (kube-apiserver, k8sd) sets it: the preflight's probes of a
// stand-in an earlier run had on this port left it in TIME_WAIT.
const HOLD = `
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2]))); s.listen(16); print("ready", flush=True)
while True:
    c, a = s.accept(); print(a[0], flush=True); c.close()
`;

/** Something else already listening on node's address:port (a running k8s service), until the test ends. */
export async function holdPort(node: NetNode, port: number): Promise<HeldPort> {
  const child: ChildProcess = spawn('ip', ['netns', 'exec', node.netns, 'python3', '-c', HOLD, node.address, String(port)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  cleanups.push(async () => {
    child.kill();
    if (child.exitCode === null && child.signalCode === null) await new Promise((resolve) => child.once('exit', resolve));
  });
  const peers = new Set<string>();
  const lines = createInterface({ input: child.stdout! });
  await new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`port holder on ${node.name}:${port} exited (${code})`)));
    lines.on('line', (line) => (line === 'ready' ? resolve() : peers.add(line)));
  });
  return { peers: () => [...peers].sort(), alive: () => child.exitCode === null && child.signalCode === null };
}

/** Command lines of the processes in node's namespace (`ip netns pids`). */
export async function processesIn(node: NetNode): Promise<string[]> {
  const pids = String((await execa('ip', ['netns', 'pids', node.netns])).stdout)
    .split('\n')
    .filter(Boolean);
  const cmdlines = await Promise.all(pids.map((pid) => readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')));
  return cmdlines.map((c) => c.replaceAll('\0', ' ').trim()).filter(Boolean);
}
