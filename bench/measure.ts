import { execa } from 'execa';

export interface Measurement {
  seconds: number;
  /** Peak resident set size in MiB, from GNU time (%M is KiB). */
  rssMiB: number;
}

/** Run a command under /usr/bin/time; wall time and peak RSS of the whole command. */
export async function measure(cmd: string, args: string[], env: Record<string, string> = {}): Promise<Measurement> {
  const start = process.hrtime.bigint();
  const r = await execa('/usr/bin/time', ['-f', '%M', cmd, ...args], { env, reject: false });
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  if (r.exitCode !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${String(r.stderr)}`);
  const kib = Number(String(r.stderr).trim().split('\n').pop());
  return { seconds, rssMiB: kib / 1024 };
}

/** A shell pipeline measured as one (the baselines: `tar | sha256sum`). */
export function measureShell(script: string): Promise<Measurement> {
  return measure('bash', ['-o', 'pipefail', '-c', script]);
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Drop the page cache when allowed (root), so runs start cold alike; false when not possible. */
export async function dropCaches(): Promise<boolean> {
  const r = await execa('bash', ['-c', 'sync && echo 3 > /proc/sys/vm/drop_caches'], { reject: false });
  return r.exitCode === 0;
}

export interface Side {
  run: () => Promise<Measurement>;
  /** Untimed, before every run (a fresh containerd, an empty cache…). */
  prepare?: () => Promise<void>;
}

export interface Pair {
  ours: Measurement;
  baseline: Measurement;
}

/**
 * Ours and the baseline taken turn about, `runs` times each, each run from a cold page cache, so
 * that the load of a shared machine falls on both alike. Medians of the times; the highest RSS.
 */
export async function comparePair(runs: number, ours: Side, baseline: Side, log: (line: string) => void): Promise<Pair> {
  const taken: { ours: Measurement[]; baseline: Measurement[] } = { ours: [], baseline: [] };
  for (let i = 0; i < runs; i++) {
    for (const [name, side] of [
      ['ours', ours],
      ['baseline', baseline],
    ] as const) {
      await side.prepare?.();
      await dropCaches();
      const m = await side.run();
      taken[name].push(m);
      log(`    ${name} run ${i + 1}: ${m.seconds.toFixed(2)} s, ${m.rssMiB.toFixed(0)} MiB`);
    }
  }
  const summary = (ms: Measurement[]) => ({ seconds: median(ms.map((m) => m.seconds)), rssMiB: Math.max(...ms.map((m) => m.rssMiB)) });
  return { ours: summary(taken.ours), baseline: summary(taken.baseline) };
}
