// `node scripts/run-ts.mjs bench/pull-main.ts [--size 1G] [--runs 3]`: the pull row on its own.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { dropCaches, median, type Measurement } from './measure.ts';
import { benchPull } from './pull.ts';

const { values } = parseArgs({ options: { size: { type: 'string', default: '1G' }, runs: { type: 'string', default: '3' } } });
const gib = Number(/^([\d.]+)G$/i.exec(values.size)?.[1] ?? '1');
const dir = await mkdtemp(path.join(tmpdir(), 'airgap-bench-pull-'));
try {
  const best = async (label: string, fn: () => Promise<Measurement>) => {
    const ms: Measurement[] = [];
    for (let i = 0; i < Number(values.runs); i++) {
      await dropCaches();
      ms.push(await fn());
    }
    const m = { seconds: median(ms.map((x) => x.seconds)), rssMiB: Math.max(...ms.map((x) => x.rssMiB)) };
    process.stderr.write(`  ${label}: ${m.seconds.toFixed(2)} s, peak RSS ${m.rssMiB.toFixed(0)} MiB\n`);
    return m;
  };
  const r = await benchPull({ dir, bytes: gib * 1024 ** 3, best });
  console.log(`pull ${values.size} (${r.blobs} blobs): ours ${r.ours.seconds.toFixed(2)} s, skopeo copy --all ${r.baseline.seconds.toFixed(2)} s, ratio ${(r.ours.seconds / r.baseline.seconds).toFixed(2)}, our peak RSS ${r.ours.rssMiB.toFixed(0)} MiB, skopeo peak RSS ${r.baseline.rssMiB.toFixed(0)} MiB`);
} finally {
  await rm(dir, { recursive: true, force: true });
}
