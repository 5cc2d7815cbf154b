import { request, type Dispatcher } from 'undici';
import { AirgapError, RegistryError } from '../errors.ts';
import type { Credentials } from './credentials.ts';
import { proxyRefusalError } from './proxy-errors.ts';
import { isRetryableStatus, parseRetryAfter } from './retry.ts';
import { parseChallenges } from './www-authenticate.ts';

export interface AuthContext {
  registry: string;
  credentials?: Credentials;
  /** Credential files looked at, named in errors. */
  tried: readonly string[];
  dispatcher: Dispatcher;
  timeoutMs: number;
  onHost?: (host: string) => void;
}

/** What to say when a registry refuses us: which credentials were used, or where none were found. */
export function authHint(ctx: Pick<AuthContext, 'registry' | 'credentials' | 'tried'>): string {
  if (ctx.credentials)
    return `the credentials for ${ctx.registry} in ${ctx.credentials.file} were refused: log in again with \`skopeo login ${ctx.registry}\` (or docker login)`;
  const files = ctx.tried.length > 0 ? ctx.tried.join(', ') : 'no credentials file';
  return `no credentials for ${ctx.registry} in ${files}: run \`skopeo login ${ctx.registry}\`, or set REGISTRY_AUTH_FILE`;
}

export function basicHeader(c: Credentials): string {
  return `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}`;
}

/**
 * Answer a 401 challenge: the `Authorization` value to send next, for `scopes` like
 * `repository:library/nginx:pull`. Bearer goes to the token realm (anonymous when we have no
 * credentials: Docker Hub, ghcr.io and quay.io hand out pull tokens for public images that way).
 */
export async function authorize(ctx: AuthContext, wwwAuthenticate: string | undefined, scopes: readonly string[]): Promise<string> {
  const challenges = parseChallenges(wwwAuthenticate ?? '');
  const bearer = challenges.find((c) => c.scheme === 'bearer');
  if (bearer?.params.realm) return `Bearer ${await fetchToken(ctx, bearer.params.realm, bearer.params.service, scopes)}`;
  if (challenges.some((c) => c.scheme === 'basic') && ctx.credentials) return basicHeader(ctx.credentials);
  throw new RegistryError('REGISTRY_AUTH', `${ctx.registry} asks for credentials (HTTP 401)`, {
    hint: authHint(ctx),
    registry: ctx.registry,
    phase: 'auth',
    status: 401,
    retryable: false,
  });
}

async function fetchToken(ctx: AuthContext, realm: string, service: string | undefined, scopes: readonly string[]): Promise<string> {
  let url: URL;
  try {
    url = new URL(realm);
  } catch {
    throw new AirgapError('REGISTRY_FAILED', `${ctx.registry} sent a token realm that is not a URL`, {
      hint: 'check the registry endpoint in sources.registries',
    });
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:')
    throw new AirgapError('REGISTRY_FAILED', `${ctx.registry} sent a token realm with scheme ${url.protocol}`);
  if (service) url.searchParams.set('service', service);
  for (const scope of scopes) url.searchParams.append('scope', scope);
  ctx.onHost?.(url.host);
  const headers: Record<string, string> = { 'user-agent': 'airgap' };
  if (ctx.credentials) headers.authorization = basicHeader(ctx.credentials);
  let res: Dispatcher.ResponseData;
  try {
    res = await request(url, { method: 'GET', headers, dispatcher: ctx.dispatcher, headersTimeout: ctx.timeoutMs, bodyTimeout: ctx.timeoutMs });
  } catch (err) {
    throw (
      proxyRefusalError(err, url, `the token service of ${ctx.registry}`) ??
      new RegistryError('REGISTRY_FAILED', `cannot reach the token service ${url.host} of ${ctx.registry}: ${(err as Error).message}`, {
        hint: 'check the network path (HTTPS_PROXY, NO_PROXY, `bundler allowlist`)',
        cause: err,
        registry: ctx.registry,
        phase: 'auth',
        method: 'GET',
        retryable: false,
      })
    );
  }
  if (res.statusCode === 401 || res.statusCode === 403) {
    await res.body.dump();
    throw new RegistryError('REGISTRY_AUTH', `${ctx.registry}'s token service ${url.host} refused us (HTTP ${res.statusCode})`, {
      hint: authHint(ctx),
      registry: ctx.registry,
      phase: 'auth',
      method: 'GET',
      status: res.statusCode,
      retryable: false,
    });
  }
  if (res.statusCode !== 200) {
    await res.body.dump();
    const retry = res.headers['retry-after'];
    const retryAfterMs = parseRetryAfter(Array.isArray(retry) ? retry[0] : retry);
    throw new RegistryError('REGISTRY_FAILED', `${ctx.registry}'s token service ${url.host} answered HTTP ${res.statusCode}`, {
      hint: 'try again later',
      registry: ctx.registry,
      phase: 'auth',
      method: 'GET',
      status: res.statusCode,
      retryable: isRetryableStatus(res.statusCode),
      ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
    });
  }
  const doc = (await res.body.json().catch(() => ({}))) as { token?: unknown; access_token?: unknown };
  const token = typeof doc.token === 'string' ? doc.token : doc.access_token;
  if (typeof token !== 'string' || token === '') throw new AirgapError('REGISTRY_FAILED', `${ctx.registry}'s token service ${url.host} sent no token`);
  return token;
}
