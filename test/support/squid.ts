import { chmod, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import { startDaemon } from './daemon.ts';
import { freePort } from './registry.ts';

export interface SquidAccess {
  /** e.g. TCP_TUNNEL/200, TCP_DENIED/403, TCP_DENIED/407 */
  result: string;
  method: string;
  /** host:port for CONNECT */
  url: string;
}

export interface TestSquid {
  /** http://127.0.0.1:PORT, for HTTPS_PROXY */
  url: string;
  /** 127.0.0.1:PORT */
  host: string;
  /**
   * What squid's access log holds so far. squid writes a tunnel's line when the tunnel closes,
   * a moment after the client has gone: with `until`, wait (up to 10 s) for the lines it wants.
   */
  access(until?: (entries: SquidAccess[]) => boolean): Promise<SquidAccess[]>;
  stop(): Promise<void>;
}

/**
 * A real squid (Debian's) on a loopback port, in the foreground, everything in a temp folder.
 * `rules` are the access rules: what `bundler allowlist --format squid` prints. The rest is what
 * squid needs to run there (its port, no cache, its pid and logs) and, with `basicAuth`, a rule
 * before them that wants that user (squid's basic_ncsa_auth over an htpasswd file). Nothing else
 * allows anything: squid denies what no rule allows (when the last rule is an allow, the default
 * is the opposite).
 */
export async function startSquid(rules: string, o: { basicAuth?: { user: string; password: string } } = {}): Promise<TestSquid> {
  const dir = await mkdtemp(path.join(tmpdir(), 'airgap-squid-'));
  // As root, squid drops to its cache_effective_user (proxy): the folder must be open to it.
  await chmod(dir, 0o777);
  const port = await freePort();
  const f = (n: string) => path.join(dir, n);
  const auth: string[] = [];
  if (o.basicAuth) {
    const { stdout } = await execa('htpasswd', ['-bn', o.basicAuth.user, o.basicAuth.password]);
    await writeFile(f('users'), `${stdout.trim()}\n`, { mode: 0o644 });
    auth.push(`auth_param basic program /usr/lib/squid/basic_ncsa_auth ${f('users')}`, 'acl authed proxy_auth REQUIRED', 'http_access deny !authed');
  }
  await writeFile(
    f('squid.conf'),
    [
      `http_port 127.0.0.1:${port}`,
      `pid_filename ${f('squid.pid')}`,
      `cache_log ${f('cache.log')}`,
      `access_log stdio:${f('access.log')}`,
      'cache_store_log none',
      'cache deny all',
      'cache_mem 8 MB',
      `coredump_dir ${dir}`,
      'netdb_filename none',
      'pinger_enable off',
      'shutdown_lifetime 0 seconds',
      ...auth,
      rules,
      '',
    ].join('\n'),
  );
  const { child, stop } = await startDaemon({ command: 'squid', args: ['-N', '-f', f('squid.conf')], log: f('squid.out'), dir });
  const read = async () =>
    (await readFile(f('access.log'), 'utf8').catch(() => ''))
      .split('\n')
      // NONE_NONE/000: a connection that sent no request (the readiness probe below).
      .filter((l) => l.trim() !== '' && !l.includes(' NONE_NONE/000 '))
      .map((l) => {
        // time elapsed client result/status bytes method url ...
        const c = l.trim().split(/\s+/);
        return { result: c[3] ?? '', method: c[5] ?? '', url: c[6] ?? '' };
      });
  const access = async (until?: (entries: SquidAccess[]) => boolean) => {
    for (let i = 0; ; i++) {
      const entries = await read();
      if (!until || until(entries) || i >= 100) return entries;
      await sleep(100);
    }
  };
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) break;
    const up = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1', () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (up) return { url: `http://127.0.0.1:${port}`, host: `127.0.0.1:${port}`, access, stop };
    await sleep(100);
  }
  const log = `${await readFile(f('squid.out'), 'utf8').catch(() => '')}\n${await readFile(f('cache.log'), 'utf8').catch(() => '')}`;
  await stop();
  throw new Error(`squid did not start:\n${log.slice(-2000)}`);
}
