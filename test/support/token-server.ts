import { createSign, generateKeyPairSync, randomUUID, X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import { readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import path from 'node:path';
import { execa } from 'execa';

export interface TokenServer {
  realm: string;
  service: string;
  issuer: string;
  /** PEM certificate of the signing key: the registry's auth.token.rootcertbundle. */
  certFile: string;
  /** Token requests so far: scope and whether they came with credentials. */
  requests: { scope: string[]; user?: string }[];
  stop(): Promise<void>;
}

const b64url = (b: Buffer | string) => Buffer.from(b).toString('base64url');

/**
 * A token service for docker-registry's `auth: token` (the scheme Docker Hub, ghcr.io and quay.io
 * use): ES256 JWTs carrying the signing certificate in x5c, which the registry checks against
 * its rootcertbundle. Anonymous callers may pull `public/*`; `user:password` may pull anything.
 */
export async function startTokenServer(dir: string, user: { name: string; password: string }): Promise<TokenServer> {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const keyFile = path.join(dir, 'token.key');
  const certFile = path.join(dir, 'token.crt');
  await writeFile(keyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }));
  await execa('openssl', ['req', '-x509', '-key', keyFile, '-out', certFile, '-days', '2', '-subj', '/CN=airgap test token issuer']);
  const cert = new X509Certificate(await readFile(certFile));
  const service = 'airgap-test-registry';
  const issuer = 'airgap-test-issuer';
  const requests: TokenServer['requests'] = [];

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const scopes = url.searchParams.getAll('scope');
    const basic = /^Basic (.+)$/.exec(req.headers.authorization ?? '');
    const [name, password] = basic ? Buffer.from(basic[1]!, 'base64').toString().split(':') : [];
    if (basic && (name !== user.name || password !== user.password)) {
      res.writeHead(401, { 'content-type': 'application/json' }).end('{"details":"incorrect username or password"}');
      return;
    }
    requests.push({ scope: scopes, ...(basic ? { user: name } : {}) });
    const access = scopes.flatMap((s) => {
      const [type, repo, actions] = s.split(':');
      if (type !== 'repository' || !repo) return [];
      const allowed = basic ? (actions ?? '').split(',') : repo.startsWith('public/') ? ['pull'] : [];
      return [{ type, name: repo, actions: allowed.filter((a) => a === 'pull' || (basic && a === 'push')) }];
    });
    const now = Math.floor(Date.now() / 1000);
    const header = { typ: 'JWT', alg: 'ES256', x5c: [cert.raw.toString('base64')] };
    const claims = { iss: issuer, sub: name ?? '', aud: service, exp: now + 300, nbf: now - 10, iat: now, jti: randomUUID(), access };
    const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
    const signature = createSign('SHA256').update(input).sign({ key: privateKey, dsaEncoding: 'ieee-p1363' });
    const token = `${input}.${b64url(signature)}`;
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token, access_token: token, expires_in: 300 }));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const realm = `http://127.0.0.1:${(server.address() as { port: number }).port}/token`;
  return {
    realm,
    service,
    issuer,
    certFile,
    requests,
    async stop() {
      server.closeAllConnections();
      server.close();
      await once(server, 'close').catch(() => undefined);
    },
  };
}
