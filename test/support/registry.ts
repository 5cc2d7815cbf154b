import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile, open } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import { Agent, request } from 'undici';
import { makeCerts, type TestCerts } from './certs.ts';

export interface RegistryRequestLog {
  method: string;
  uri: string;
  status: number;
}

export interface TestRegistry {
  /** host:port, e.g. 127.0.0.1:41234 */
  host: string;
  url: string;
  certs?: TestCerts;
  user?: { name: string; password: string };
  /** Every request the registry answered so far, from its log (401s of htpasswd are not listed). */
  requests(): Promise<RegistryRequestLog[]>;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;
  server.close();
  await once(server, 'close');
  return port;
}

/**
 * A real distribution registry (Debian's docker-registry) on loopback with filesystem storage in a
 * temp folder; optionally TLS from a throwaway CA and htpasswd (bcrypt, made by `htpasswd -B`).
 */
export interface TokenAuth {
  realm: string;
  service: string;
  issuer: string;
  certFile: string;
}

export async function startRegistry(
  o: { tls?: boolean; auth?: boolean; token?: TokenAuth; redirectBaseUrl?: string; storageDir?: string } = {},
): Promise<TestRegistry> {
  const root = await mkdtemp(path.join(tmpdir(), 'airgap-reg-'));
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  const certs = o.tls ? await makeCerts(root) : undefined;
  const user = o.auth ? { name: 'ci-user', password: `pw-${Math.random().toString(36).slice(2)}` } : undefined;
  if (user) {
    const { stdout } = await execa('htpasswd', ['-Bbn', user.name, user.password]);
    await writeFile(path.join(root, 'htpasswd'), `${stdout.trim()}\n`);
  }
  const config = [
    'version: 0.1',
    'log: {level: info, formatter: json, accesslog: {disabled: true}}',
    `storage: {filesystem: {rootdirectory: ${o.storageDir ?? `${root}/data`}}, delete: {enabled: true}}`,
    // Blob GETs answered with a redirect to another host, as Docker Hub sends them to its CDN.
    ...(o.redirectBaseUrl ? ['middleware:', '  storage:', `    - {name: redirect, options: {baseurl: "${o.redirectBaseUrl}"}}`] : []),
    'http:',
    `  addr: ${host}`,
    ...(certs ? [`  tls: {certificate: ${certs.certFile}, key: ${certs.keyFile}}`] : []),
    ...(user ? ['auth:', `  htpasswd: {realm: airgap-test, path: ${root}/htpasswd}`] : []),
    ...(o.token
      ? ['auth:', `  token: {realm: "${o.token.realm}", service: ${o.token.service}, issuer: ${o.token.issuer}, rootcertbundle: ${o.token.certFile}}`]
      : []),
    '',
  ].join('\n');
  await writeFile(path.join(root, 'config.yml'), config);
  const logFile = path.join(root, 'registry.log');
  const log = await open(logFile, 'a');
  const child = spawn('docker-registry', ['serve', path.join(root, 'config.yml')], { stdio: ['ignore', log.fd, log.fd] });
  const exited = once(child, 'exit');
  const url = `${certs ? 'https' : 'http'}://${host}`;
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await Promise.race([exited, sleep(5000).then(() => child.kill('SIGKILL'))]);
    }
    await log.close();
    await rm(root, { recursive: true, force: true });
  };
  const requests = async () => {
    const out: RegistryRequestLog[] = [];
    for (const line of (await readFile(logFile, 'utf8')).split('\n')) {
      // "response completed" (2xx/3xx) and "response completed with error" (4xx/5xx); a request
      // refused by htpasswd before dispatch (401) is logged otherwise, and is not listed.
      if (!line.includes('"msg":"response completed')) continue;
      const e = JSON.parse(line) as Record<string, unknown>;
      out.push({ method: String(e['http.request.method']), uri: String(e['http.request.uri']), status: Number(e['http.response.status']) });
    }
    return out;
  };
  const probe = new Agent({ connect: certs ? { ca: await readFile(certs.caFile) } : {} });
  try {
    for (let i = 0; i < 100; i++) {
      if (child.exitCode !== null) break;
      const status = await request(`${url}/v2/`, { dispatcher: probe }).then(
        async (r) => (await r.body.dump(), r.statusCode),
        () => 0,
      );
      if (status === 200 || status === 401) return { host, url, ...(certs ? { certs } : {}), ...(user ? { user } : {}), requests, stop };
      await sleep(100);
    }
  } finally {
    await probe.close();
  }
  const text = await readFile(logFile, 'utf8').catch(() => '');
  await stop();
  throw new Error(`docker-registry did not start:\n${text.slice(-2000)}`);
}

/** `skopeo copy --all` from an OCI layout into the registry, as a user's CI would push. */
export async function pushLayout(registry: TestRegistry, layoutDir: string, tag: string, dest: string): Promise<void> {
  await execa('skopeo', [
    'copy',
    '--all',
    '--quiet',
    '--preserve-digests',
    ...(registry.certs ? ['--dest-cert-dir', path.dirname(registry.certs.caFile)] : ['--dest-tls-verify=false']),
    ...(registry.user ? ['--dest-creds', `${registry.user.name}:${registry.user.password}`] : []),
    `oci:${layoutDir}:${tag}`,
    `docker://${registry.host}/${dest}`,
  ]);
}
