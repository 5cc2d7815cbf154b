import type { Spec } from '@airgap/core';

/**
 * What containerd and the shell must not send through the proxy: the k8s snap's default pod and
 * service CIDRs and loopback (ERRATA), plus the bundle's noProxy (the nodes' own network) and
 * the hosts of its containerd mirrors.
 */
export const DEFAULT_NO_PROXY = ['10.1.0.0/16', '10.152.183.0/24', '127.0.0.1', 'localhost'];

/**
 * The hosts of the bundle's containerd mirrors, for NO_PROXY: a mirror sits on the site's own
 * network, and containerd would otherwise send its pulls through the proxy (which usually refuses
 * inside hosts or does not route to them). Hostname only, so every port of it is covered; IPv6
 * without brackets, as Go's and curl's NO_PROXY matching expect.
 */
export function mirrorHosts(spec: Spec): string[] {
  return (spec.containerd?.mirrors ?? []).map((m) => new URL(m.endpoint).hostname.replace(/^\[|\]$/g, ''));
}

/** Proxy variables in upper and lower case; empty when the bundle sets no proxy. */
export function proxyVariables(spec: Spec): [string, string][] {
  const p = spec.proxy;
  if (!p || (!p.http && !p.https)) return [];
  const vars: [string, string][] = [];
  if (p.http) vars.push(['HTTP_PROXY', p.http], ['http_proxy', p.http]);
  if (p.https) vars.push(['HTTPS_PROXY', p.https], ['https_proxy', p.https]);
  const noProxy = [...new Set([...p.noProxy, ...DEFAULT_NO_PROXY, ...mirrorHosts(spec)])].join(',');
  vars.push(['NO_PROXY', noProxy], ['no_proxy', noProxy]);
  for (const [k, v] of vars) if (/["\\\n\r$`]/.test(v)) throw new Error(`proxy value for ${k} has a character that cannot be quoted safely`);
  return vars;
}

/**
 * /etc/environment with `vars` set: lines for keys we set or owned are replaced or dropped in
 * place, every other line is kept byte for byte, new keys are appended.
 */
export function renderEnvironment(current: string, vars: [string, string][], owned: readonly string[]): string {
  const want = new Map(vars);
  const managed = new Set([...want.keys(), ...owned]);
  const done = new Set<string>();
  const lines = current === '' ? [] : current.replace(/\n$/, '').split('\n');
  const out: string[] = [];
  for (const line of lines) {
    const key = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=/.exec(line)?.[1];
    if (key === undefined || !managed.has(key)) {
      out.push(line);
      continue;
    }
    const value = want.get(key);
    if (value !== undefined && !done.has(key)) out.push(`${key}="${value}"`);
    done.add(key);
  }
  for (const [k, v] of vars) if (!done.has(k)) out.push(`${k}="${v}"`);
  return out.length === 0 ? '' : `${out.join('\n')}\n`;
}

export function dropInText(vars: [string, string][]): string {
  return `# Written by the airgap applier (proxy); re-run the applier to change it.\n[Service]\nEnvironment=${vars.map(([k, v]) => `"${k}=${v}"`).join(' ')}\n`;
}
