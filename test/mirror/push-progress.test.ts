import { describe, expect, it } from 'vitest';
import type { PushEvent, PushSummary } from '../../packages/applier/src/push/push-events.ts';
import { createPushProgress, type PushOutputMode } from '../../packages/applier/src/push/push-output.ts';

const MiB = 1024 * 1024;
const d = (c: string) => `sha256:${c.repeat(64)}`;
const summary: PushSummary = {
  registry: 'mirror:5000',
  images: 2,
  blobsUploaded: 1,
  bytesUploaded: 2 * MiB,
  blobsMounted: 0,
  blobsPresent: 1,
  bytesSkipped: MiB,
  manifestsPushed: 2,
  manifestsPresent: 1,
  subsets: [{ image: 'docker.io/library/a:1', index: d('a'), subset: d('5') }],
  unheld: [
    {
      image: `docker.io/library/a@${d('a')}`,
      target: `mirror:5000/library/a@${d('a')}`,
      digest: d('a'),
      absent: ['linux/s390x'],
      hint: 'pods that pin it will not find it',
    },
  ],
  failed: [],
  seconds: 3,
};
const EVENTS: PushEvent[] = [
  { type: 'image-start', image: 'docker.io/library/a:1', target: 'mirror:5000/library/a:1', digest: d('a'), blobs: 2, bytes: 3 * MiB },
  { type: 'blob', image: 'docker.io/library/a:1', digest: d('1'), size: MiB, action: 'present' },
  { type: 'bytes', image: 'docker.io/library/a:1', n: 2 * MiB },
  { type: 'blob', image: 'docker.io/library/a:1', digest: d('2'), size: 2 * MiB, action: 'uploaded' },
  {
    type: 'index-refused',
    image: 'docker.io/library/a:1',
    target: 'mirror:5000/library/a:1',
    index: d('a'),
    subset: d('5'),
    platforms: ['linux/amd64'],
    absent: ['linux/s390x', 'attestation', 'attestation'],
  },
  { type: 'image-done', image: 'docker.io/library/a:1', target: 'mirror:5000/library/a:1', digest: d('5') },
  { type: 'image-start', image: `docker.io/library/a@${d('a')}`, target: `mirror:5000/library/a@${d('a')}`, digest: d('a'), blobs: 2, bytes: 3 * MiB },
  { type: 'digest-unheld', ...summary.unheld[0]! },
  { type: 'done', ...summary },
];

function run(mode: PushOutputMode) {
  let out = '';
  let t = 0;
  const p = createPushProgress({ mode, write: (s) => (out += s), images: 2, bytes: 6 * MiB, now: () => t });
  for (const e of EVENTS) {
    t += 500;
    p.listener(e);
  }
  p.finish();
  return out;
}

describe('push progress', () => {
  it('redraws a block on a terminal, warnings and the summary above it, ending with everything done', () => {
    const out = run('tty');
    expect(out).toContain(
      "warning: the registry refused the index sha256:aaaaaaaaaaaa… (it lists linux/s390x, attestation, which the bundle does not carry); the tag points at the bundle's subset index sha256:555555555555… (linux/amd64)",
    );
    expect(out).toContain('pushed 2 image(s) to mirror:5000 in 3.0 s: sent 2.0 MiB, skipped 1.0 MiB (already there or mounted)');
    expect(out).toContain(`  not held: docker.io/library/a@${d('a')}: pods that pin it will not find it`);
    // Blocks are erased and redrawn in place; the last one says everything is done.
    expect(out).toMatch(/\x1b\[\d+A\x1b\[J/);
    expect(out).toMatch(/\x1b\[2Kpush: 2\/2 images {2}6\.0 MiB \/ 6\.0 MiB {2}sent 2\.0 MiB {2}[\d.]+ KiB\/s {2}ETA 0:00\n\x1b\[J$/);
  });

  it('prints plain lines without escape codes when not on a terminal', () => {
    const out = run('plain');
    expect(out).not.toContain('\x1b');
    expect(out.split('\n').filter(Boolean)).toHaveLength(9);
    expect(out).toContain('  uploaded sha256:222222222222… 2.0 MiB');
  });

  it('prints every event but byte counts as JSON, the summary with bytes sent and skipped', () => {
    const lines = run('json')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as PushEvent);
    expect(lines.map((l) => l.type)).toEqual(['image-start', 'blob', 'blob', 'index-refused', 'image-done', 'image-start', 'digest-unheld', 'done']);
    expect(lines.at(-1)).toMatchObject({ bytesUploaded: 2 * MiB, bytesSkipped: MiB });
  });
});
