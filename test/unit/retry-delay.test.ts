import { describe, expect, it } from 'vitest';
import { isRetryableError, isRetryableStatus, parseRetryAfter, RegistryError, retryDelay, AirgapError, type RetryPolicy } from '@airgap/core';

const POLICY: RetryPolicy = { retries: 4, baseDelayMs: 500, maxDelayMs: 15_000 };
const NOW = Date.parse('2026-01-01T00:00:00Z');

// Retry-After (RFC 9110 §10.2.3): delay-seconds or an HTTP-date.
const RETRY_AFTER: [string, string | undefined, number | undefined][] = [
  ['absent', undefined, undefined],
  ['empty', '', undefined],
  ['zero seconds', '0', 0],
  ['seconds', '3', 3000],
  ['seconds with spaces', ' 7 ', 7000],
  ['an HTTP-date 2 s ahead', 'Thu, 01 Jan 2026 00:00:02 GMT', 2000],
  ['an HTTP-date in the past', 'Wed, 31 Dec 2025 23:59:00 GMT', 0],
  ['negative seconds', '-1', undefined],
  ['fractional seconds', '1.5', undefined],
  ['garbage', 'soon', undefined],
];

// The server's wait wins (capped); without one, exponential backoff with jitter in [exp/2, exp].
const DELAYS: [string, { attempt: number; retryAfterMs?: number }, [number, number]][] = [
  ['Retry-After 0 means now', { attempt: 1, retryAfterMs: 0 }, [0, 0]],
  ['Retry-After is honoured over backoff', { attempt: 1, retryAfterMs: 3000 }, [3000, 3000]],
  ['Retry-After on a later attempt too', { attempt: 4, retryAfterMs: 1200 }, [1200, 1200]],
  ['Retry-After is capped at maxDelayMs', { attempt: 1, retryAfterMs: 3_600_000 }, [15_000, 15_000]],
  ['first backoff', { attempt: 1 }, [250, 500]],
  ['second backoff doubles', { attempt: 2 }, [500, 1000]],
  ['third', { attempt: 3 }, [1000, 2000]],
  ['backoff is capped at maxDelayMs', { attempt: 10 }, [7500, 15_000]],
];

describe('parseRetryAfter', () => {
  it.each(RETRY_AFTER)('%s', (_name, header, want) => {
    expect(parseRetryAfter(header, NOW)).toBe(want);
  });
});

describe('retryDelay', () => {
  it.each(DELAYS)('%s', (_name, { attempt, retryAfterMs }, [min, max]) => {
    for (let i = 0; i < 50; i++) {
      const ms = retryDelay(POLICY, attempt, retryAfterMs);
      expect(ms).toBeGreaterThanOrEqual(min);
      expect(ms).toBeLessThanOrEqual(max);
    }
  });
});

const STATUS: [number, boolean][] = [
  [200, false],
  [400, false],
  [401, false],
  [404, false],
  [408, true],
  [429, true],
  [500, true],
  [501, false],
  [502, true],
  [503, true],
  [504, true],
  [505, false],
];

describe('isRetryableStatus', () => {
  it.each(STATUS)('HTTP %i: %s', (status, want) => {
    expect(isRetryableStatus(status)).toBe(want);
  });
});

const reg = (retryable: boolean) => new RegistryError('REGISTRY_FAILED', 'x', { registry: 'r', phase: 'blob', retryable });
const ERRORS: [string, unknown, boolean][] = [
  ['a reset connection', Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }), true],
  [
    'an undici socket error under a cause',
    new Error('fetch failed', { cause: Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' }) }),
    true,
  ],
  ['a registry error marked retryable', reg(true), true],
  ['a registry error not marked retryable', reg(false), false],
  ['another airgap error', new AirgapError('DIGEST_MISMATCH', 'x'), false],
  ['a bug', new TypeError('x is undefined'), false],
  ['ENOSPC', Object.assign(new Error('no space'), { code: 'ENOSPC' }), false],
];

describe('isRetryableError', () => {
  it.each(ERRORS)('%s: %s', (_name, err, want) => {
    expect(isRetryableError(err)).toBe(want);
  });
});
