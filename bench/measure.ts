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
