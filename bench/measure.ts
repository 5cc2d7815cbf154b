import { execa } from 'execa';
import { availableParallelism, loadavg } from 'node:os';

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

/** The runs of one command: median, spread and the highest peak RSS. */
export interface Stats {
  seconds: number;
  min: number;
  max: number;
  rssMiB: number;
  runs: number;
}

export function stats(ms: Measurement[]): Stats {
  const s = ms.map((m) => m.seconds);
  return { seconds: median(s), min: Math.min(...s), max: Math.max(...s), rssMiB: Math.max(...ms.map((m) => m.rssMiB)), runs: ms.length };
}

/** The machine's load when a row starts and ends: the machine is shared, so each row says how busy it was. */
export interface Load {
  nproc: number;
  start: number;
  end: number;
}

/** One row measured against its floor (and, where it had one, the old baseline). */
export interface Measured {
  ours: Stats;
  floor: Stats;
  /** Undefined where the old baseline is the floor itself (pull: skopeo, import: ctr). */
  baseline?: Stats;
  load: Load;
}

const load1 = () => loadavg()[0]!;

/**
 * Ours, the floor and the old baseline taken turn about (ours, floor, baseline, ours, …), `runs`
 * times each, each run after its untimed `prepare` and a dropped page cache, so that the load of
 * a shared machine falls on all of them alike.
 */
export async function compareRow(runs: number, sides: { ours: Side; floor: Side; baseline?: Side }, log: (line: string) => void): Promise<Measured> {
  const start = load1();
  const taken: Record<'ours' | 'floor' | 'baseline', Measurement[]> = { ours: [], floor: [], baseline: [] };
  for (let i = 0; i < runs; i++) {
    for (const name of ['ours', 'floor', 'baseline'] as const) {
      const side = sides[name];
      if (!side) continue;
      await side.prepare?.();
      await dropCaches();
      const m = await side.run();
      taken[name].push(m);
      log(`    ${name} run ${i + 1}: ${m.seconds.toFixed(2)} s, ${m.rssMiB.toFixed(0)} MiB (load ${load1().toFixed(2)})`);
    }
  }
  return {
    ours: stats(taken.ours),
    floor: stats(taken.floor),
    ...(sides.baseline ? { baseline: stats(taken.baseline) } : {}),
    load: { nproc: availableParallelism(), start, end: load1() },
  };
}

/**
 * Start-up: `reps` runs of each command, warm (the page cache is not dropped: a start-up is about
 * what the process loads, not the disk), turn about with the floor.
 */
export async function compareStartup(reps: number, ours: Side, floor: Side, log: (line: string) => void): Promise<Measured> {
  const start = load1();
  const taken: { ours: Measurement[]; floor: Measurement[] } = { ours: [], floor: [] };
  for (let i = 0; i < reps; i++) {
    taken.ours.push(await ours.run());
    taken.floor.push(await floor.run());
  }
  const r = { ours: stats(taken.ours), floor: stats(taken.floor), load: { nproc: availableParallelism(), start, end: load1() } };
  log(`    ours ${r.ours.seconds.toFixed(3)} s, floor ${r.floor.seconds.toFixed(3)} s (${reps} runs each)`);
  return r;
}
