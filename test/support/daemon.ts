import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { open, rm } from 'node:fs/promises';

export interface Daemon {
  child: ChildProcess;
  /** SIGTERM (SIGKILL after 10 s), then close the log and remove `dir`. */
  stop: () => Promise<void>;
}

/** A real server started for a test, its output appended to `log`; `dir` is its temp folder. */
export async function startDaemon(o: { command: string; args: string[]; log: string; dir: string }): Promise<Daemon> {
  const out = await open(o.log, 'a');
  const child = spawn(o.command, o.args, { stdio: ['ignore', out.fd, out.fd] });
  const exited = once(child, 'exit');
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(killer);
    }
    await out.close();
    await rm(o.dir, { recursive: true, force: true });
  };
  return { child, stop };
}
