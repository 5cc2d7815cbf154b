import { describe, expect, it } from 'vitest';
import type { PullEvent } from '../../packages/bundler/src/oci/pull-events.ts';
import { formatBytes } from '@airgap/core';
import { createPullProgress } from '../../packages/bundler/src/pull-progress.ts';

const EVENTS: PullEvent[] = [
  { type: 'image-resolved', image: 'docker.io/library/a:1', digest: `sha256:${'a'.repeat(64)}`, blobs: 2, bytes: 3 * 1024 * 1024 },
  { type: 'blob-done', image: 'docker.io/library/a:1', digest: `sha256:${'1'.repeat(64)}`, size: 1024 * 1024, cached: true },
  { type: 'bytes', image: 'docker.io/library/a:1', n: 2 * 1024 * 1024 },
  { type: 'retry', what: 'docker.io/library/a:1 blob 222222222222', attempt: 1, reason: 'HTTP 503' },
  { type: 'blob-done', image: 'docker.io/library/a:1', digest: `sha256:${'2'.repeat(64)}`, size: 2 * 1024 * 1024, cached: false },
  { type: 'image-done', image: 'docker.io/library/a:1', digest: `sha256:${'a'.repeat(64)}` },
];

function run(mode: 'plain' | 'json' | 'tty') {
  let out = '';
  let t = 0;
  const p = createPullProgress(
    mode,
    (s) => (out += s),
    () => t,
  );
  for (const e of EVENTS) {
    t += 500;
    p.listener(e);
  }
  p.finish();
  return out;
}

describe('pull progress', () => {
  it('prints a line per finished image and per retry when not on a terminal', () => {
    expect(run('plain')).toBe(
      `retry 1: docker.io/library/a:1 blob 222222222222: HTTP 503\npulled docker.io/library/a:1 sha256:aaaaaaaaaaaa… 3.0 MiB (1 blob from cache)\n`,
    );
  });

  it('prints JSON events, byte counts folded into progress lines', () => {
    const lines = run('json')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { type: string; done?: number; total?: number });
    expect(lines.map((l) => l.type)).toEqual(['image-resolved', 'blob-done', 'progress', 'retry', 'blob-done', 'image-done', 'progress']);
    expect(lines.at(-1)).toMatchObject({ done: 3 * 1024 * 1024, total: 3 * 1024 * 1024 });
  });

  it('redraws a block on a terminal, ending with everything done', () => {
    const out = run('tty');
    expect(out).toContain('retry 1: docker.io/library/a:1');
    expect(out).toMatch(/images: 3\.0 MiB \/ 3\.0 MiB {2}1\.0 MiB\/s {2}ETA 0:00\n\x1b\[J$/);
  });

  it('formats sizes', () => {
    expect([formatBytes(0), formatBytes(1536), formatBytes(5 * 1024 ** 3)]).toEqual(['0 B', '1.5 KiB', '5.0 GiB']);
  });
});
