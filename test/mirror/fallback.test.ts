import { mkdir, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import path from 'node:path';
import { execa } from 'execa';
import { parse } from 'smol-toml';
import { afterEach, describe, expect, it } from 'vitest';
import type { Mirror, Spec } from '@airgap/core';
import { proxyVariables } from '../../packages/applier/src/steps/proxy-env.ts';
import { renderHostsFiles } from '../../packages/bundler/src/containerd/render-hosts.ts';
import { startContainerd } from '../support/containerd.ts';
import { freePort } from '../support/registry.ts';
import { testdir } from '../support/tmpdir.ts';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const mirror = (o: Partial<Mirror> & Pick<Mirror, 'registries' | 'endpoint'>): Mirror => ({
  capabilities: ['pull', 'resolve'],
  skipVerify: false,
  overridePath: false,
  ...o,
});

async function writeHosts(dir: string, mirrors: Mirror[], caData = new Map<string, Buffer>()): Promise<string> {
  const hostsDir = path.join(dir, 'hosts.d');
  for (const f of renderHostsFiles({ mirrors, hostsDir, caData })) {
    await mkdir(path.dirname(path.join(hostsDir, f.target)), { recursive: true });
    await writeFile(path.join(hostsDir, f.target), f.data);
  }
  return hostsDir;
}

/** A TCP listener that only counts who connects: the upstream registry a node must never reach. */
async function upstreamWatch(): Promise<{ port: number; connections: () => number; server: Server }> {
  let n = 0;
  const server = createServer((s) => {
    n++;
    s.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise((r) => server.close(() => r())));
  return { port: (server.address() as { port: number }).port, connections: () => n, server };
}

describe('containerd.mirrors[].fallback', () => {
  it('renders server as the upstream by default, and as the mirror (with its settings) when fallback is false', async () => {
    const dir = await testdir();
    const ca = Buffer.from('-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
    const files = renderHostsFiles({
      mirrors: [
        mirror({ registries: ['docker.io', 'quay.io'], endpoint: 'https://mirror.internal:5000', ca: './ca.crt' }),
        mirror({ registries: ['docker.io'], endpoint: 'https://Mirror-B.internal:5001/v2/hub', overridePath: true, fallback: false }),
      ],
      hostsDir: dir,
      caData: new Map([['./ca.crt', ca]]),
    });
    const toml = (target: string) => parse(files.find((f) => f.target === target)!.data.toString()) as Record<string, unknown>;
    // quay.io: only the first mirror, which falls back: the upstream is tried last.
    expect(toml('quay.io/hosts.toml').server).toBe('https://quay.io');
    // docker.io: both mirrors in spec order, then the fail-closed one again as server.
    const hub = toml('docker.io/hosts.toml');
    expect(hub).toEqual({
      server: 'https://Mirror-B.internal:5001/v2/hub',
      capabilities: ['pull', 'resolve'],
      override_path: true,
      host: {
        'https://mirror.internal:5000': { capabilities: ['pull', 'resolve'], ca: path.posix.join(dir, 'docker.io/ca-mirror.internal_5000.crt') },
        'https://Mirror-B.internal:5001/v2/hub': { capabilities: ['pull', 'resolve'], override_path: true },
      },
    });
    expect(Object.keys(hub.host as object)).toEqual(['https://mirror.internal:5000', 'https://Mirror-B.internal:5001/v2/hub']);
    expect(files.find((f) => f.target === 'docker.io/hosts.toml')!.data.toString()).toMatch(/^# .*fallback: false/);
    // A fail-closed mirror with a CA carries it as the server's CA too.
    const closed = renderHostsFiles({
      mirrors: [mirror({ registries: ['ghcr.io'], endpoint: 'https://10.0.0.9:5000', ca: './ca.crt', fallback: false })],
      hostsDir: '/etc/containerd/hosts.d',
      caData: new Map([['./ca.crt', ca]]),
    });
    expect(parse(closed.find((f) => f.target === 'ghcr.io/hosts.toml')!.data.toString())).toMatchObject({
      server: 'https://10.0.0.9:5000',
      ca: '/etc/containerd/hosts.d/ghcr.io/ca-10.0.0.9_5000.crt',
    });
  });

  it("puts every mirror's host in NO_PROXY when a proxy is set, so containerd reaches the mirrors directly", () => {
    const spec = {
      proxy: { https: 'http://proxy.corp:3128', noProxy: ['10.77.0.0/24'] },
      containerd: {
        mirrors: [
          mirror({ registries: ['docker.io'], endpoint: 'https://Mirror.Internal:5000' }),
          mirror({ registries: ['quay.io'], endpoint: 'http://[fd00::5]:5000' }),
          mirror({ registries: ['ghcr.io'], endpoint: 'https://mirror.internal:5001' }),
        ],
      },
    } as unknown as Spec;
    const vars = new Map(proxyVariables(spec));
    expect(vars.get('NO_PROXY')).toBe('10.77.0.0/24,10.1.0.0/16,10.152.183.0/24,127.0.0.1,localhost,mirror.internal,fd00::5');
    expect(vars.get('no_proxy')).toBe(vars.get('NO_PROXY'));
    // No proxy, no variables: mirrors alone do not make a NO_PROXY.
    expect(proxyVariables({ containerd: spec.containerd } as unknown as Spec)).toEqual([]);
  });

  it('fallback: false: with the mirror down, a real `ctr images pull` fails and never connects to the upstream registry', async () => {
    const dir = await testdir();
    const upstream = await upstreamWatch();
    const registry = `127.0.0.1:${upstream.port}`;
    const ref = `${registry}/library/app:1.0`;
    // The mirror is down: nothing listens on its port.
    const down = `http://127.0.0.1:${await freePort()}`;
    const containerd = await startContainerd();
    cleanups.push(() => containerd.stop());
    const pull = (hostsDir: string) =>
      execa('ctr', ['--debug', '--address', containerd.address, '--namespace', 'k8s.io', 'images', 'pull', '--hosts-dir', hostsDir, ref], {
        reject: false,
        timeout: 60_000,
      });

    const closed = await pull(await writeHosts(path.join(dir, 'closed'), [mirror({ registries: [registry], endpoint: down, fallback: false })]));
    expect(closed.exitCode).not.toBe(0);
    expect(closed.stderr).toContain(`${down.replace('http://', '')}`);
    expect(closed.stderr).toMatch(/connection refused/);
    expect(upstream.connections()).toBe(0);
    // ctr resolves through hosts.toml itself (its --debug log): every try went to the mirror.
    expect(closed.stderr).not.toContain(`https://${registry}`);

    // The same pull with the default (fallback: true) does go on to the upstream: the watch above can see it.
    const open = await pull(await writeHosts(path.join(dir, 'open'), [mirror({ registries: [registry], endpoint: down })]));
    expect(open.exitCode).not.toBe(0);
    expect(upstream.connections()).toBeGreaterThan(0);
  });
});
