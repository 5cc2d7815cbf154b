import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';

export interface TestCerts {
  /** Alone in its folder, so the folder works as a docker/skopeo certs.d dir. */
  caFile: string;
  certFile: string;
  keyFile: string;
}

/** A throwaway CA and a server certificate for 127.0.0.1 and localhost, made with openssl. */
export async function makeCerts(dir: string): Promise<TestCerts> {
  const f = (n: string) => path.join(dir, n);
  await mkdir(f('ca'), { recursive: true });
  const ssl = (...args: string[]) => execa('openssl', args);
  await ssl(
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    f('ca.key'),
    '-out',
    f('ca/ca.crt'),
    '-days',
    '2',
    '-subj',
    '/CN=airgap test CA',
  );
  await ssl(
    'req',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    f('server.key'),
    '-out',
    f('server.csr'),
    '-subj',
    '/CN=127.0.0.1',
  );
  await writeFile(f('san.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  await ssl(
    'x509',
    '-req',
    '-in',
    f('server.csr'),
    '-CA',
    f('ca/ca.crt'),
    '-CAkey',
    f('ca.key'),
    '-set_serial',
    String(Date.now()),
    '-out',
    f('server.crt'),
    '-days',
    '2',
    '-extfile',
    f('san.ext'),
  );
  return { caFile: f('ca/ca.crt'), certFile: f('server.crt'), keyFile: f('server.key') };
}
