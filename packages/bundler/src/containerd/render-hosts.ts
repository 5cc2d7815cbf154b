import path from 'node:path';
import { stringify } from 'smol-toml';
import type { Mirror } from '@airgap/core';
import { upstreamServer } from './hosts-dir.ts';

export interface RenderedFile {
  /** Relative to the hosts dir, e.g. `docker.io/hosts.toml`. */
  target: string;
  data: Buffer;
}

export interface RenderHostsOptions {
  mirrors: readonly Mirror[];
  hostsDir: string;
  /** CA file contents by the spec's `ca` value. */
  caData: ReadonlyMap<string, Buffer>;
}

/**
 * One hosts.toml per mirrored registry, plus the CA of each mirror beside it. A registry listed
 * under several mirrors gets them as hosts in spec order; containerd tries them in that order,
 * then `server`. Written with a TOML library: containerd silently ignores a file it cannot parse.
 *
 * `server` is the upstream registry unless one of the registry's mirrors says `fallback: false`:
 * then it is that mirror (the last such one), so a pull the mirrors cannot answer fails on the
 * node instead of reaching for the internet. That is what k8s-snap's own air-gap test writes
 * (canonical/k8s-snap tests/integration/templates/registry/hosts.toml:1, `server` = the mirror,
 * used by tests/integration/tests/test_airgapped.py:229). containerd reads the root of the file as
 * the server's own host config (containerd core/remotes/docker/config/hosts.go:415, appended after
 * the `[host]` tables), so the mirror's capabilities, CA and path settings are repeated there.
 */
export function renderHostsFiles(o: RenderHostsOptions): RenderedFile[] {
  const byRegistry = new Map<string, Mirror[]>();
  for (const m of o.mirrors) {
    for (const r of m.registries) byRegistry.set(r, [...(byRegistry.get(r) ?? []), m]);
  }
  const files: RenderedFile[] = [];
  for (const [registry, mirrors] of [...byRegistry].sort(([a], [b]) => a.localeCompare(b))) {
    const host: Record<string, Record<string, unknown>> = {};
    for (const m of mirrors) {
      const table: Record<string, unknown> = { capabilities: m.capabilities };
      if (m.ca) {
        const caTarget = `${registry}/ca-${fileSafe(new URL(m.endpoint).host)}.crt`;
        table.ca = path.posix.join(o.hostsDir, caTarget);
        files.push({ target: caTarget, data: o.caData.get(m.ca) ?? Buffer.alloc(0) });
      }
      if (m.skipVerify) table.skip_verify = true;
      if (m.overridePath) table.override_path = true;
      host[m.endpoint] = table;
    }
    const closed = mirrors.filter((m) => m.fallback === false).at(-1);
    const root = closed ? { server: closed.endpoint, ...host[closed.endpoint] } : { server: upstreamServer(registry) };
    const note = closed ? ' fallback: false: server is the mirror, never the upstream registry.' : '';
    const toml = `# Written by airgap from airgap.yaml (containerd.mirrors). Changes here are replaced on the next apply.${note}\n${stringify({ ...root, host })}\n`;
    files.push({ target: `${registry}/hosts.toml`, data: Buffer.from(toml) });
  }
  return files.sort((a, b) => (a.target < b.target ? -1 : 1));
}

function fileSafe(s: string): string {
  return s.replace(/[^A-Za-z0-9.-]/g, '_');
}
