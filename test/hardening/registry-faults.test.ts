import { mkdir, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isAirgapError } from '@airgap/core';
import { pullImages } from '../../packages/bundler/src/oci/pull-images.ts';
import { recordFigures } from './report.ts';
import { startFaultProxy, type FaultProxy, type FaultRule } from '../support/fault-proxy.ts';
import type { MadeImage } from '../support/oci-images.ts';
import { startRegistry, type TestRegistry } from '../support/registry.ts';
import { pushTestImages } from '../support/push-test-images.ts';
import { testdir } from '../support/tmpdir.ts';
import { mountTmpfs } from '../support/tmpfs.ts';

// Fast retries so the always-failing cases end in well under a second of waiting.
const retry = { retries: 3, baseDelayMs: 20, maxDelayMs: 100 };

describe('pulls through a fault-injecting proxy in front of a real registry', () => {
  let reg: TestRegistry;
  let proxy: FaultProxy;
  let image: MadeImage;
  beforeAll(async () => {
    reg = await startRegistry();
    ({ 'library/faulty:1': image } = await pushTestImages(reg, { 'library/faulty:1': { platforms: ['linux/amd64'], layerSizes: [200_000, 150_000] } }));
    proxy = await startFaultProxy(reg.url);
  }, 60_000);
  const outcomes: Record<string, string> = {};
  afterAll(async () => {
    // A filtered run (vitest -t) tried only some kinds: its figures would understate the suite.
    if (Object.keys(outcomes).length === RECOVERABLE.length + PERSISTENT.length)
      await recordFigures('registryFaults', {
        kinds: Object.keys(outcomes).length,
        recovered: Object.values(outcomes).filter((o) => o === 'recovered').length,
        cleanErrors: Object.values(outcomes).filter((o) => o !== 'recovered').length,
        ...outcomes,
      });
    await proxy?.stop();
    await reg?.stop();
  });

  /** The test image, through the proxy, into cacheDir. */
  const pullFaulty = (cacheDir: string) =>
    pullImages({
      refs: [`${proxy.host}/library/faulty:1`],
      platforms: ['linux/amd64'],
      registries: { [proxy.host]: { endpoint: proxy.url, plainHttp: true } },
      specDir: cacheDir,
      cacheDir,
      retry,
    });

  const pull = async (rules: FaultRule[], timeoutMs?: string) => {
    proxy.setRules(rules);
    const cacheDir = await testdir();
    const before = process.env.AIRGAP_HTTP_TIMEOUT_MS;
    if (timeoutMs) process.env.AIRGAP_HTTP_TIMEOUT_MS = timeoutMs;
    try {
      const result = await pullFaulty(cacheDir).catch((err: unknown) => err);
      const held = (await readdir(path.join(cacheDir, 'blobs', 'sha256')).catch(() => [] as string[])).sort();
      return { result, held };
    } finally {
      if (timeoutMs) {
        if (before === undefined) delete process.env.AIRGAP_HTTP_TIMEOUT_MS;
        else process.env.AIRGAP_HTTP_TIMEOUT_MS = before;
      }
    }
  };
  const blobs = /\/blobs\/sha256:/;
  const layer = () => new RegExp(`/blobs/${image.blobs[1]!.digest}`);

  const RECOVERABLE = [
    ['500 twice on every blob', [{ match: blobs, fault: 'status500', times: 2 }]],
    ['429 with Retry-After', [{ match: blobs, fault: 'status429', times: 2 }]],
    ['500 on the manifest', [{ match: /\/manifests\//, fault: 'status500', times: 1 }]],
    ['a connection reset mid-blob', [{ match: blobs, fault: 'reset', times: 1 }]],
    ['a truncated blob', [{ match: blobs, fault: 'truncate', times: 1 }]],
    ['wrong bytes once', [{ match: blobs, fault: 'corrupt', times: 1 }]],
  ] as [string, FaultRule[]][];
  it.each(RECOVERABLE)('recovers from %s with every digest right', async (_name, rules) => {
    const before = { ...proxy.injected };
    const { result, held } = await pull(rules);
    if (result instanceof Error) throw result;
    expect(result).toMatchObject({ images: [{ digest: image.digest }] });
    for (const b of image.blobs) expect(held).toContain(b.digest.slice(7));
    expect(held.filter((n) => n.includes('.tmp-'))).toEqual([]);
    const injected = Object.values(proxy.injected).reduce((a, b) => a + b, 0) - Object.values(before).reduce((a, b) => a + b, 0);
    expect(injected).toBeGreaterThan(0);
    outcomes[_name] = 'recovered';
  });

  const PERSISTENT = [
    ['500 on every try', [{ match: blobs, fault: 'status500' }], 'REGISTRY_FAILED', /answered HTTP 500/, undefined],
    [
      'wrong bytes on every try',
      [{ match: blobs, fault: 'corrupt' }],
      'DIGEST_MISMATCH',
      /sent bytes hashing to sha256:[a-f0-9]{64} for blob sha256:/,
      undefined,
    ],
    // A cut-short body surfaces as a socket error or as a short read, whichever the client sees first.
    [
      'truncation on every try',
      [{ match: blobs, fault: 'truncate' }],
      'REGISTRY_FAILED|SIZE_MISMATCH',
      /faulty:1( blob sha256:[a-f0-9]{64}: GET from .* failed: |: .* sent \d+ of the \d+ bytes of blob)/,
      undefined,
    ],
    ['a stalled blob', [{ match: blobs, fault: 'stall' }], 'REGISTRY_FAILED', /faulty:1.*: GET from .* failed: UND_ERR_HEADERS_TIMEOUT/, '300'],
  ] as [string, FaultRule[], string, RegExp, string | undefined][];
  it.each(PERSISTENT)('fails cleanly on %s: clear error, nothing half-written', async (_name, rules, code, message, timeout) => {
    const { result, held } = await pull(rules, timeout);
    expect(code.split('|')).toContain(isAirgapError(result) ? result.code : String(result));
    expect((result as Error).message).toMatch(message);
    expect((result as Error).message).toContain(`${proxy.host}/library/faulty:1`);
    // Only verified blobs reach their final name; the faulty layer is not among them.
    expect(held.filter((n) => n.includes('.tmp-'))).toEqual([]);
    expect(held).not.toContain(image.blobs[1]!.digest.slice(7));
    outcomes[_name] = `clean error ${(result as { code: string }).code}`;
  });

  it("clears a killed build's half-downloaded blobs on the next pull, and leaves a live one's alone", async () => {
    const cacheDir = await testdir();
    const blobs = path.join(cacheDir, 'blobs', 'sha256');
    await mkdir(blobs, { recursive: true });
    const dead = `.${'d'.repeat(64)}.tmp-999999-0badc0de`; // no such pid
    const live = `.${'e'.repeat(64)}.tmp-${process.ppid}-0badc0de`; // the test runner's parent is alive
    await writeFile(path.join(blobs, dead), 'half');
    await writeFile(path.join(blobs, live), 'half');
    proxy.setRules([]);
    await pullFaulty(cacheDir);
    const names = await readdir(blobs);
    expect(names).not.toContain(dead);
    expect(names).toContain(live);
  });

  it('a full image cache fails as IO_FAILED naming the cache, with nothing half-written', async () => {
    const cacheDir = await testdir();
    await mountTmpfs(cacheDir, 256 * 1024); // the 200 KB and 150 KB layers cannot both fit
    proxy.setRules([]);
    const err: unknown = await pullFaulty(cacheDir).catch((e: unknown) => e);
    expect(isAirgapError(err, 'IO_FAILED')).toBe(true);
    expect((err as Error).message).toContain(`cannot write to the image cache ${path.join(cacheDir, 'blobs', 'sha256')}: no space left on the device (ENOSPC)`);
    expect((await readdir(path.join(cacheDir, 'blobs', 'sha256'))).filter((n) => n.includes('.tmp-'))).toEqual([]);
  });

  it('retries only the blob that failed', async () => {
    const { result } = await pull([{ match: layer(), fault: 'reset', times: 1 }]);
    expect(result).toMatchObject({ fetched: image.blobs.length });
  });
});
