import { afterEach, describe, expect, it, vi } from 'vitest';
import { AirgapError, isRegistryError, RegistryError, runMain } from '@airgap/core';

/** runMain's exit code and stderr for a main that throws `err`. */
async function outcome(err: unknown, argv: string[] = []): Promise<{ code: number | string | undefined; stderr: string }> {
  let stderr = '';
  const spy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stderr += String(chunk);
    return true;
  });
  try {
    // A rejected string too: run-main takes whatever reaches it.
    // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors
    await runMain(() => Promise.reject(err), argv);
    return { code: process.exitCode, stderr };
  } finally {
    spy.mockRestore();
    process.exitCode = 0;
  }
}

describe('runMain', () => {
  afterEach(() => {
    process.exitCode = 0;
  });

  it.each([
    ['a TypeError', new TypeError("Cannot read properties of undefined (reading 'name')")],
    ['a plain Error', new Error('unexpected state')],
    ['a thrown string', 'boom'],
  ])('%s is a bug: exit 70, "please report it" and the stack', async (_name, err) => {
    const r = await outcome(err);
    expect(r.code).toBe(70);
    expect(r.stderr).toContain('this is a bug: please report it');
    if (err instanceof Error) expect(r.stderr).toContain(`${err.name}: ${err.message}\n    at `);
    expect(r.stderr).not.toContain('error[');
  });

  it('a bug names its cause too', async () => {
    const r = await outcome(new Error('outer', { cause: new RangeError('inner') }));
    expect(r.stderr).toMatch(/caused by: RangeError: inner\n {4}at /);
  });

  it.each([
    ['USAGE', 2],
    ['BUNDLE_INVALID', 2],
    ['NODE_INVALID', 2],
    ['ENV_INVALID', 2],
    ['TOOL_FAILED', 1],
    ['STEP_FAILED', 1],
  ] as const)('AirgapError %s: exit %i, code, message and hint, no stack', async (code, exit) => {
    const r = await outcome(new AirgapError(code, 'what happened', { hint: 'what to do' }));
    expect(r.code).toBe(exit);
    expect(r.stderr).toBe(`error[${code}]: what happened\nhint: what to do\n`);
  });

  it('the stack of a user error only with --verbose', async () => {
    const r = await outcome(new AirgapError('USAGE', 'x'), ['--verbose']);
    expect(r.stderr).toMatch(/^error\[USAGE\]: x\nAirgapError: x\n {4}at /);
  });
});

describe('RegistryError', () => {
  it('carries status, method and phase as fields', () => {
    const err = new RegistryError('REGISTRY_FAILED', 'r:5000 answered HTTP 503 to PATCH', {
      registry: 'r:5000',
      phase: 'upload',
      method: 'PATCH',
      status: 503,
      retryable: true,
      retryAfterMs: 2000,
    });
    expect(err).toBeInstanceOf(AirgapError);
    expect(isRegistryError(err, 'REGISTRY_FAILED')).toBe(true);
    expect(isRegistryError(new AirgapError('REGISTRY_FAILED', 'x'))).toBe(false);
    expect({
      code: err.code,
      registry: err.registry,
      phase: err.phase,
      method: err.method,
      status: err.status,
      retryable: err.retryable,
      retryAfterMs: err.retryAfterMs,
    }).toEqual({
      code: 'REGISTRY_FAILED',
      registry: 'r:5000',
      phase: 'upload',
      method: 'PATCH',
      status: 503,
      retryable: true,
      retryAfterMs: 2000,
    });
  });
});
