import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';

export interface TestNetns {
  name: string;
  /** Put first on PATH: its `ip` runs the real ip inside the namespace (`ip netns exec`). */
  binDir: string;
  /** The veth link inside the namespace. */
  iface: string;
  ip(args: string[]): Promise<string>;
  remove(): Promise<void>;
}

/** A network namespace with lo and a veth link up, with or without a default route. */
export async function createNetns(o: { defaultRoute: boolean }): Promise<TestNetns> {
  const name = `airgap-${randomBytes(4).toString('hex')}`;
  const iface = 'veth0';
  const ip = async (args: string[]) => String((await execa('ip', ['netns', 'exec', name, 'ip', ...args])).stdout);
  await execa('ip', ['netns', 'add', name]);
  const binDir = await mkdtemp(path.join(tmpdir(), 'airgap-netns-bin-'));
  const remove = async () => {
    await execa('ip', ['netns', 'delete', name], { reject: false });
    await rm(binDir, { recursive: true, force: true });
  };
  try {
    await ip(['link', 'set', 'lo', 'up']);
    // A veth pair inside the namespace (this kernel has no dummy module); both ends up for carrier.
    await ip(['link', 'add', iface, 'type', 'veth', 'peer', 'name', 'veth1']);
    await ip(['link', 'set', 'veth1', 'up']);
    await ip(['link', 'set', iface, 'up']);
    await ip(['addr', 'add', '10.77.0.2/24', 'dev', iface]);
    if (o.defaultRoute) await ip(['route', 'add', 'default', 'via', '10.77.0.1', 'dev', iface]);
    const real = String((await execa('sh', ['-c', 'command -v ip'])).stdout).trim();
    const wrapper = path.join(binDir, 'ip');
    await writeFile(wrapper, `#!/bin/sh\nexec ${real} netns exec ${name} ${real} "$@"\n`);
    await chmod(wrapper, 0o755);
  } catch (err) {
    await remove();
    throw err;
  }
  return { name, binDir, iface, ip, remove };
}
