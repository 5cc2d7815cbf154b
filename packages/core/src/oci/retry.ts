import { AirgapError } from '../errors.ts';

/** When and how long to wait before trying a registry request again. */
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

const NETWORK_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EAI_AGAIN', 'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CLOSED']);

/**
 * True for network failures, and for our own errors marked retryable (wrong or short bytes). An
 * AirgapError wrapping a network failure means the retries were already spent on it: not again.
 */
export function isRetryableError(err: unknown): boolean {
  if (err instanceof AirgapError) return (err as { retryable?: boolean }).retryable === true;
  for (let e = err as { code?: string; cause?: unknown } | undefined, depth = 0; e && depth < 4; e = e.cause as typeof e, depth++) {
    if (typeof e.code === 'string' && NETWORK_CODES.has(e.code)) return true;
  }
  return false;
}

/** Delay before attempt `attempt` (1-based), honouring a server's Retry-After in seconds. */
export function retryDelay(policy: RetryPolicy, attempt: number, retryAfter?: string | null): number {
  const seconds = retryAfter ? Number(retryAfter) : NaN;
  if (Number.isFinite(seconds) && seconds >= 0) return Math.min(seconds * 1000, policy.maxDelayMs);
  const exp = Math.min(policy.baseDelayMs * 2 ** (attempt - 1), policy.maxDelayMs);
  return exp / 2 + Math.random() * (exp / 2);
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** The short reason a failure is retried: our own message, or the network error's code. */
export function describeNetworkError(err: unknown): string {
  const e = err as { code?: string; message?: string; cause?: { code?: string; message?: string } };
  return e.cause?.code ?? e.code ?? e.message ?? String(err);
}

/**
 * `fn` again after each retryable failure, up to `policy.retries` more times, with backoff; the
 * last failure is thrown as it is. Each attempt must start from scratch (clean up in `fn`).
 */
export async function withRetries<T>(policy: RetryPolicy, what: string, fn: () => Promise<T>, onRetry?: (what: string, attempt: number, reason: string) => void): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (!isRetryableError(err) || attempt > policy.retries) throw err;
      onRetry?.(what, attempt, err instanceof AirgapError ? err.message : describeNetworkError(err));
      await sleep(retryDelay(policy, attempt));
    }
  }
}
