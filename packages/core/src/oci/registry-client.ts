import type { Readable } from 'node:stream';
import { Agent, EnvHttpProxyAgent, request, type Dispatcher } from 'undici';
import { AirgapError, RegistryError, type RegistryPhase } from '../errors.ts';
import type { Credentials } from './credentials.ts';
import { proxyRefusalError } from './proxy-errors.ts';
import { authHint, authorize, type AuthContext } from './registry-auth.ts';
import { DEFAULT_RETRY, describeNetworkError, isRetryableStatus, parseRetryAfter, withRetries, type OnRetry, type RetryPolicy } from './retry.ts';

/** Where a registry's API is reached, and how. */
export interface RegistryEndpoint {
  /** The registry images are named after, e.g. `docker.io`. */
  registry: string;
  /** Base URL requests go to, e.g. `https://registry-1.docker.io` or a pull-through mirror. */
  url: string;
  /** PEM CA bundle that signs the endpoint's certificate (replaces the system roots for it). */
  ca?: string | Buffer;
}

export interface RegistryClientOptions {
  endpoint: RegistryEndpoint;
  credentials?: Credentials;
  /** Credential files that were searched, named when the registry refuses us. */
  credentialsTried?: readonly string[];
  retry?: RetryPolicy;
  /** Headers and idle-body timeout per request (default 60 s; AIRGAP_HTTP_TIMEOUT_MS overrides). */
  timeoutMs?: number;
  /** Told about every host contacted: registry, token realm, blob redirect targets. */
  onHost?: (host: string) => void;
  onRetry?: OnRetry;
}

export type Scope = 'pull' | 'push,pull';

export interface RegistryRequest {
  method: 'GET' | 'HEAD' | 'PUT' | 'POST' | 'PATCH';
  /** Path under the endpoint (`/v2/library/nginx/manifests/1.27`), or an absolute URL (upload locations). */
  path: string;
  repository: string;
  scope: Scope;
  /** More repositories to ask a token for, e.g. the source of a cross-repository mount. */
  extraPullRepositories?: readonly string[];
  headers?: Record<string, string>;
  /** Called again for every attempt, so a retried upload re-reads its data from the start. */
  body?: () => Buffer | Readable;
  /** Names the request in errors, e.g. the image `docker.io/library/nginx:1.27`. */
  what?: string;
  /** Follow 3xx (blob downloads redirect to storage hosts); the Authorization header stays behind. */
  followRedirects?: boolean;
  /** What the request is part of, for errors (default: read from the method and path, see phaseOf). */
  phase?: RegistryPhase;
}

export interface RegistryResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Dispatcher.ResponseData['body'];
  /** The URL that answered (after redirects). */
  url: string;
  /** The request's method and phase, so an error about this answer can carry them as fields. */
  method: RegistryRequest['method'];
  phase: RegistryPhase;
}

export interface RegistryClient {
  readonly endpoint: RegistryEndpoint;
  readonly retry: RetryPolicy;
  /** One request with auth, redirects and retries on 5xx, 429 and network errors. */
  request(req: RegistryRequest): Promise<RegistryResponse>;
  close(): Promise<void>;
  /** Abort whatever is in flight (after a failure elsewhere). */
  destroy(): Promise<void>;
}

export function createRegistryClient(o: RegistryClientOptions): RegistryClient {
  const timeoutMs = o.timeoutMs ?? (Number(process.env.AIRGAP_HTTP_TIMEOUT_MS) || 60_000);
  const tls = o.endpoint.ca ? { ca: o.endpoint.ca } : {};
  const agentOptions = { connect: tls, requestTls: tls, headersTimeout: timeoutMs, bodyTimeout: timeoutMs, connections: 16 };
  const useProxy = Boolean(process.env.HTTPS_PROXY ?? process.env.https_proxy ?? process.env.HTTP_PROXY ?? process.env.http_proxy);
  const dispatcher: Dispatcher = useProxy ? new EnvHttpProxyAgent(agentOptions) : new Agent(agentOptions);
  // Redirect targets are storage hosts with public certificates: system roots, not the registry CA.
  const plainOptions = { headersTimeout: timeoutMs, bodyTimeout: timeoutMs };
  const redirectDispatcher: Dispatcher = useProxy ? new EnvHttpProxyAgent(plainOptions) : new Agent(plainOptions);
  const base = new URL(o.endpoint.url);
  const retry = o.retry ?? DEFAULT_RETRY;
  const auth: AuthContext = {
    registry: o.endpoint.registry,
    ...(o.credentials ? { credentials: o.credentials } : {}),
    tried: o.credentialsTried ?? [],
    dispatcher,
    timeoutMs,
    ...(o.onHost ? { onHost: o.onHost } : {}),
  };
  const tokens = new Map<string, string>();

  const scopesFor = (req: RegistryRequest) => [
    `repository:${req.repository}:${req.scope}`,
    ...(req.extraPullRepositories ?? []).map((r) => `repository:${r}:pull`),
  ];

  async function once(req: RegistryRequest): Promise<RegistryResponse> {
    const scopeKey = scopesFor(req).join(' ');
    // An endpoint may carry a path prefix (Artifactory's /api/docker/<repo>); upload URLs come absolute.
    let url = /^https?:\/\//.test(req.path) ? new URL(req.path) : new URL(base.pathname.replace(/\/$/, '') + req.path, base.origin);
    for (let authTries = 0, hops = 0; ;) {
      const sameOrigin = url.origin === base.origin;
      const headers: Record<string, string> = { 'user-agent': 'airgap', ...req.headers };
      const token = tokens.get(scopeKey);
      if (sameOrigin && token) headers.authorization = token;
      o.onHost?.(url.host);
      const target = url;
      const res = await request(url, {
        method: req.method,
        headers,
        ...(req.body ? { body: req.body() } : {}),
        dispatcher: sameOrigin ? dispatcher : redirectDispatcher,
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
      }).catch((err: unknown) => {
        // A proxy that refused the tunnel: say so (a RegistryError that is not retryable).
        throw proxyRefusalError(err, target, req.what ?? `${req.method} ${req.repository} from ${o.endpoint.registry}`) ?? err;
      });
      const location = res.headers.location;
      if (req.followRedirects && res.statusCode >= 300 && res.statusCode < 400 && typeof location === 'string' && hops < 5) {
        await res.body.dump();
        url = new URL(location, url);
        hops++;
        continue;
      }
      if (res.statusCode === 401 && sameOrigin && authTries === 0) {
        authTries++;
        const challenge = res.headers['www-authenticate'];
        await res.body.dump();
        tokens.set(scopeKey, await authorize(auth, typeof challenge === 'string' ? challenge : challenge?.[0], scopesFor(req)));
        continue;
      }
      if (res.statusCode === 401 || (res.statusCode === 403 && sameOrigin)) {
        await res.body.dump();
        throw new RegistryError('REGISTRY_AUTH', `${o.endpoint.registry} refused ${req.method} ${req.repository} (HTTP ${res.statusCode})`, {
          hint: authHint(auth),
          registry: o.endpoint.registry,
          phase: phaseOf(req),
          method: req.method,
          status: res.statusCode,
          retryable: false,
        });
      }
      return { status: res.statusCode, headers: res.headers, body: res.body, url: url.href, method: req.method, phase: phaseOf(req) };
    }
  }

  return {
    endpoint: o.endpoint,
    retry,
    async request(req) {
      try {
        return await withRetries(
          retry,
          `${req.method} ${req.path}`,
          async ({ last }) => {
            const res = await once(req);
            if (!isRetryableStatus(res.status) || last) return res;
            await res.body.dump();
            // Never seen by a caller: the last attempt returns the answer, for the caller to word.
            throw new RegistryError('REGISTRY_FAILED', `HTTP ${res.status}`, {
              registry: o.endpoint.registry,
              phase: phaseOf(req),
              method: req.method,
              status: res.status,
              retryable: true,
              ...retryAfterOf(res.headers),
            });
          },
          o.onRetry ? { onRetry: o.onRetry } : {},
        );
      } catch (err) {
        throw asRegistryError(err, o.endpoint, req);
      }
    },
    async close() {
      await Promise.all([dispatcher.close(), redirectDispatcher.close()]);
    },
    async destroy() {
      await Promise.all([dispatcher.destroy(), redirectDispatcher.destroy()]);
    },
  };
}

export function headerValue(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

/** The server's Retry-After, as RegistryError's retryAfterMs. */
function retryAfterOf(headers: RegistryResponse['headers']): { retryAfterMs?: number } {
  const ms = parseRetryAfter(headerValue(headers['retry-after']));
  return ms === undefined ? {} : { retryAfterMs: ms };
}

/** The phase a request belongs to, from its method and path (distribution spec routes). */
export function phaseOf(req: Pick<RegistryRequest, 'method' | 'path' | 'phase'>): RegistryPhase {
  if (req.phase) return req.phase;
  if (req.method === 'PATCH' || /\/blobs\/uploads\//.test(req.path)) return 'upload';
  if (/\/manifests\//.test(req.path)) return req.method === 'PUT' ? 'push-manifest' : 'manifest';
  return 'blob';
}

/**
 * A transport failure as the user should see it: which registry, what failed, what to check.
 * Retries were already spent on it, so the error is not retryable again.
 */
export function asRegistryError(
  err: unknown,
  endpoint: RegistryEndpoint,
  req: Pick<RegistryRequest, 'method' | 'path' | 'repository' | 'what' | 'phase'>,
): unknown {
  if (err instanceof AirgapError) return err;
  const reason = describeNetworkError(err);
  const tlsHint = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY/.test(reason)
    ? `give the registry's CA with sources.registries.${endpoint.registry}.ca`
    : 'check the endpoint, the network path (HTTPS_PROXY, NO_PROXY) and `bundler allowlist`';
  return new RegistryError('REGISTRY_FAILED', `${req.what ?? req.repository}: ${req.method} from ${endpoint.registry} (${endpoint.url}) failed: ${reason}`, {
    hint: tlsHint,
    cause: err,
    registry: endpoint.registry,
    phase: phaseOf(req),
    method: req.method,
    retryable: false,
  });
}
