import { AirgapError, RegistryError } from '../errors.ts';

/** When and how long to wait before trying a registry request again: one policy for pull and push. */
export interface RetryPolicy {
  /** Attempts after the first. */
  retries: number;
  /** First delay in ms; doubles each time, with jitter, up to maxDelayMs. */
  baseDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { retries: 4, baseDelayMs: 500, maxDelayMs: 15_000 };

/** A failure worth another try: the registry or the path to it, not the request. */
export function isRetryableStatus(status: number): boolean {
  return status === 429 || status === 408 || (status >= 500 && status !== 501 && status !== 505);
}

const NETWORK_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_CLOSED',
]);

/**
 * True for network failures, and for registry errors whose `retryable` field says so (5xx, 429,
 * wrong or short bytes). Any other AirgapError is an answer that will not change.
 */
export function isRetryableError(err: unknown): boolean {
  if (err instanceof RegistryError) return err.retryable;
  if (err instanceof AirgapError) return false;
  return networkCode(err) !== undefined;
}

/** The network error code in `err` or its causes (`ECONNRESET`, `UND_ERR_SOCKET`), if it is one. */
export function networkCode(err: unknown): string | undefined {
  for (let e = err as { code?: unknown; cause?: unknown } | undefined, depth = 0; e && depth < 4; e = e.cause as typeof e, depth++) {
    if (typeof e.code === 'string' && NETWORK_CODES.has(e.code)) return e.code;
  }
  return undefined;
}

/**
 * A Retry-After header in milliseconds from `now`: delay-seconds or an HTTP-date (RFC 9110
 * §10.2.3). Undefined when absent or unreadable; a date in the past is 0.
 */
export function parseRetryAfter(header: string | undefined, now: number = Date.now()): number | undefined {
  const text = header?.trim();
  if (!text) return undefined;
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const at = /[a-z]/i.test(text) ? Date.parse(text) : NaN;
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/**
 * Delay before retry `attempt` (1-based): the server's Retry-After when it sent one (capped at
 * maxDelayMs, so a registry cannot stall a build for an hour), else exponential backoff with jitter
 * between half and all of baseDelayMs·2^(attempt-1).
 */
export function retryDelay(policy: RetryPolicy, attempt: number, retryAfterMs?: number): number {
  if (retryAfterMs !== undefined && Number.isFinite(retryAfterMs) && retryAfterMs >= 0) return Math.min(retryAfterMs, policy.maxDelayMs);
  const exp = Math.min(policy.baseDelayMs * 2 ** (attempt - 1), policy.maxDelayMs);
  return exp / 2 + Math.random() * (exp / 2);
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** The short reason a failure is retried: our own message, or the network error's code. */
export function describeNetworkError(err: unknown): string {
  const e = err as { code?: string; message?: string; cause?: { code?: string; message?: string } };
  return e.cause?.code ?? e.code ?? e.message ?? String(err);
}

export type OnRetry = (what: string, attempt: number, reason: string) => void;

export interface RetryOptions {
  onRetry?: OnRetry;
  /** Which failures to try again (default isRetryableError). */
  retryable?: (err: unknown) => boolean;
}

/**
 * `fn` again after each retryable failure, up to `policy.retries` more times, waiting as
 * retryDelay says (a RegistryError's retryAfterMs is the server's Retry-After); the last failure is
 * thrown as it is. `last` tells `fn` no retry follows. Each attempt must start from scratch.
 */
export async function withRetries<T>(
  policy: RetryPolicy,
  what: string,
  fn: (attempt: { n: number; last: boolean }) => Promise<T>,
  options: RetryOptions = {},
): Promise<T> {
  const retryable = options.retryable ?? isRetryableError;
  for (let n = 1; ; n++) {
    try {
      return await fn({ n, last: n > policy.retries });
    } catch (err) {
      if (n > policy.retries || !retryable(err)) throw err;
      options.onRetry?.(what, n, err instanceof AirgapError ? err.message : describeNetworkError(err));
      await sleep(retryDelay(policy, n, err instanceof RegistryError ? err.retryAfterMs : undefined));
    }
  }
}
