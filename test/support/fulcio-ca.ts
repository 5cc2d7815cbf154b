import { execFile } from 'node:child_process';
import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * A Fulcio-like CA made with openssl, and leaf certificates in the shape Fulcio issues
 * (sigstore/fulcio docs/oid-info.md): code signing, the SAN (email or URI) and the OIDC issuer in
 * 1.3.6.1.4.1.57264.1.8 (DER UTF8String) or the legacy 1.3.6.1.4.1.57264.1.1 (raw bytes).
 */
export interface TestCa {
  dir: string;
  certPem: string;
  /** The CA as a Sigstore trusted_root.json (protobuf-specs TrustedRoot JSON). */
  trustedRootJson: string;
  leaf(o: LeafOptions): Promise<Leaf>;
}

export interface LeafOptions {
  issuer: string;
  /** `email:ci@example.com` or `URI:https://…` */
  san: string;
  legacyIssuer?: boolean;
  /** openssl dates, `YYYYMMDDHHMMSSZ`; default: yesterday to in ten days. */
  start?: string;
  end?: string;
}

export interface Leaf {
  certPem: string;
  privateKey: KeyObject;
}

const stamp = (d: Date) => `${d.toISOString().replace(/[-:T]/g, '').slice(0, 14)}Z`;

export async function makeTestCa(dir: string, name = 'test-fulcio'): Promise<TestCa> {
  await mkdir(dir, { recursive: true });
  const f = (n: string) => path.join(dir, n);
  await run('openssl', ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', f('ca.key')]);
  await run('openssl', [
    ...['req', '-x509', '-new', '-key', f('ca.key'), '-sha256', '-days', '3650', '-subj', `/O=example/CN=${name}`],
    ...['-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign', '-out', f('ca.pem')],
  ]);
  await writeFile(f('index.txt'), '');
  await writeFile(f('serial'), '1000\n');
  await mkdir(f('issued'), { recursive: true });
  await writeFile(
    f('ca.cnf'),
    [
      '[ca]',
      'default_ca = x',
      '[x]',
      `database = ${f('index.txt')}`,
      `new_certs_dir = ${f('issued')}`,
      `serial = ${f('serial')}`,
      'default_md = sha256',
      'policy = p',
      'unique_subject = no',
      'email_in_dn = no',
      '[p]',
      'commonName = optional',
      '',
    ].join('\n'),
  );
  const certPem = await readFile(f('ca.pem'), 'utf8');
  const der = new X509Certificate(certPem).raw.toString('base64');
  const trustedRootJson = JSON.stringify({
    mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
    tlogs: [],
    certificateAuthorities: [
      {
        subject: { organization: 'example', commonName: name },
        uri: `https://${name}.example`,
        certChain: { certificates: [{ rawBytes: der }] },
        validFor: { start: '2020-01-01T00:00:00Z' },
      },
    ],
    ctlogs: [],
    timestampAuthorities: [],
  });
  let n = 0;
  return {
    dir,
    certPem,
    trustedRootJson,
    async leaf(o) {
      const id = `leaf${++n}`;
      await run('openssl', ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', f(`${id}.key`)]);
      await run('openssl', ['req', '-new', '-key', f(`${id}.key`), '-subj', '/', '-out', f(`${id}.csr`)]);
      const issuerExt = o.legacyIssuer
        ? `1.3.6.1.4.1.57264.1.1 = DER:${Buffer.from(o.issuer).toString('hex')}`
        : `1.3.6.1.4.1.57264.1.8 = ASN1:UTF8String:${o.issuer}`;
      await writeFile(
        f(`${id}.ext`),
        [
          'basicConstraints = critical,CA:FALSE',
          'keyUsage = critical,digitalSignature',
          'extendedKeyUsage = codeSigning',
          `subjectAltName = critical,${o.san}`,
          issuerExt,
          '',
        ].join('\n'),
      );
      const day = 86_400_000;
      await run('openssl', [
        ...['ca', '-batch', '-notext', '-config', f('ca.cnf'), '-cert', f('ca.pem'), '-keyfile', f('ca.key'), '-in', f(`${id}.csr`)],
        ...['-startdate', o.start ?? stamp(new Date(Date.now() - day)), '-enddate', o.end ?? stamp(new Date(Date.now() + 10 * day))],
        ...['-extfile', f(`${id}.ext`), '-out', f(`${id}.pem`)],
      ]);
      return { certPem: await readFile(f(`${id}.pem`), 'utf8'), privateKey: createPrivateKey(await readFile(f(`${id}.key`))) };
    },
  };
}
