import { RegistryError } from '../errors.ts';

/** What a forward proxy answered instead of opening the tunnel. */
export interface ProxyRefusal {
  /** The proxy as host:port, without credentials. */
  proxy: string;
  status: number;
  /** What the tunnel was asked for: host:port. */
  target: string;
}

/**
 * undici's words for a proxy that did not open the tunnel (undici 7
 * lib/dispatcher/proxy-agent.js: `Proxy response (${statusCode}) !== 200 when HTTP Tunneling` for a
 * CONNECT answered other than 200, `Proxy Authentication Required (407)` for a forwarded request).
 * It reports them as UND_ERR_ABORTED / UND_ERR_INVALID_ARG with nothing else; the message is all
 * there is to go on, and test/images/squid.test.ts holds it to a real squid.
 */
const TUNNEL = /Proxy response \((\d{3})\) !== 200 when HTTP Tunneling/;
const FORWARD_407 = /Proxy Authentication Required \(407\)/;

/** The proxy undici's EnvHttpProxyAgent picks for `url` (its order: lower case first, https falls back to http). */
export function proxyFor(url: URL, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const http = env.http_proxy ?? env.HTTP_PROXY;
  const raw = url.protocol === 'https:' ? (env.https_proxy ?? env.HTTPS_PROXY ?? http) : http;
  if (!raw) return undefined;
  try {
    return new URL(raw).host;
  } catch {
    return raw;
  }
}

/** The refusal inside `err` (or its causes), when a proxy refused to carry a request to `url`. */
export function proxyRefusal(err: unknown, url: URL, env: NodeJS.ProcessEnv = process.env): ProxyRefusal | undefined {
  for (let e = err as { message?: unknown; cause?: unknown } | undefined, depth = 0; e && depth < 4; e = e.cause as typeof e, depth++) {
    const message = typeof e.message === 'string' ? e.message : '';
    const status = TUNNEL.exec(message)?.[1] ?? (FORWARD_407.test(message) ? '407' : undefined);
    if (status === undefined) continue;
    const port = url.port || (url.protocol === 'https:' ? '443' : '80');
    return { proxy: proxyFor(url, env) ?? 'from HTTPS_PROXY/HTTP_PROXY', status: Number(status), target: `${url.hostname}:${port}` };
  }
  return undefined;
}

/**
 * The refusal as the user should read it: which proxy, what it answered, for which host, and what
 * to change. Not retryable: a proxy that refuses a host refuses it again.
 */
export function proxyRefusalError(err: unknown, url: URL, what: string): RegistryError | undefined {
  const r = proxyRefusal(err, url);
  if (!r) return undefined;
  const details = { cause: err, registry: url.host, phase: 'connect', method: 'CONNECT', status: r.status, retryable: false } as const;
  if (r.status === 407) {
    return new RegistryError('REGISTRY_FAILED', `${what}: the proxy ${r.proxy} wants authentication for CONNECT ${r.target} (HTTP 407)`, {
      hint: 'put the proxy credentials in its URL (HTTPS_PROXY=http://USER:PASSWORD@proxy:3128), or let this machine through without them',
      ...details,
    });
  }
  return new RegistryError(
    'REGISTRY_FAILED',
    `${what}: the proxy ${r.proxy} refused CONNECT ${r.target} with HTTP ${r.status}; allow it there (bundler allowlist)`,
    {
      hint: `\`bundler allowlist airgap.yaml --format squid\` prints the lines the proxy needs; ${r.target.replace(/:\d+$/, '')} must be among them (or in NO_PROXY if it is reached directly)`,
      ...details,
    },
  );
}
