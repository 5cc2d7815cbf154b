import { AirgapError, defaultEndpoint, loadSpec, lockPathFor, parseReference, readLock, specImageRefs } from '@airgap/core';

/** The snap store's API and download CDN, for specs that download snaps instead of using snapsDir. */
export const SNAP_STORE_HOSTS = ['api.snapcraft.io', '.snapcraftcontent.com'];

export interface AllowlistResult {
  /** host or host:port; a leading dot covers the domain's subdomains (squid dstdomain). */
  hosts: string[];
  /** True when the lock recorded the hosts seen in pulls (token realms, blob redirects). */
  fromLock: boolean;
}

/**
 * What a forward proxy must let through for this spec (Option A): each registry endpoint, plus the
 * token realms and blob storage hosts recorded in the lock by the last pull, plus the snap store.
 */
export async function allowlist(specFile: string): Promise<AllowlistResult> {
  const loaded = await loadSpec(specFile);
  const { spec } = loaded;
  const lock = await readLock(lockPathFor(loaded.file));
  const hosts = new Set<string>(lock?.hosts ?? []);
  for (const ref of [...specImageRefs(spec), ...(lock?.images.map((i) => i.ref) ?? [])]) {
    const { registry } = parseReference(ref);
    hosts.add(new URL(spec.sources?.registries?.[registry]?.endpoint ?? defaultEndpoint(registry)).host);
  }
  if (!spec.sources?.snapsDir) for (const h of SNAP_STORE_HOSTS) hosts.add(h);
  return { hosts: [...hosts].sort(), fromLock: (lock?.hosts?.length ?? 0) > 0 };
}

export function formatAllowlist(r: AllowlistResult, format: string, name: string): string {
  if (format === 'plain') return r.hosts.join('\n');
  if (format !== 'squid') throw new AirgapError('USAGE', `unknown --format ${format}`, { hint: 'use --format squid or --format plain' });
  const ports = new Set(r.hosts.map((h) => /:(\d+)$/.exec(h)?.[1] ?? '443'));
  return [
    `# airgap allowlist for ${name}: registries, token realms and blob storage seen in pulls, and the snap store`,
    ...[...new Set(r.hosts.map((h) => h.replace(/:\d+$/, '')))].map((h) => `acl airgap_dst dstdomain ${h}`),
    `acl airgap_ports port ${[...ports].sort().join(' ')}`,
    'http_access allow CONNECT airgap_dst airgap_ports',
    'http_access allow airgap_dst airgap_ports',
  ].join('\n');
}
