import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { cli } from '../support/cli.ts';
import { site } from '../support/site-fixture.ts';

const PASS = { AIRGAP_KEY_PASSPHRASE: 'correct horse battery staple' };
const build = (dir: string, key: string, env: Record<string, string> = {}) =>
  cli('bundler', ['build', 'airgap.yaml', '-o', 'bundle.tar', '--key', key, '--no-applier'], { cwd: dir, env });
const bundleFiles = async (dir: string) => (await readdir(dir)).filter((n) => n.startsWith('bundle'));

describe('a passphrase-protected signing key (keygen --encrypt)', () => {
  it('is encrypted PKCS#8; build with the right passphrase works and the bundle verifies with its .pub', async () => {
    const dir = await site();
    const k = await cli('bundler', ['keygen', '--encrypt', '--out', 'keys/enc'], { cwd: dir, env: PASS });
    expect(k.exitCode).toBe(0);
    expect(k.stdout).toContain('encrypted');
    const pem = await readFile(path.join(dir, 'keys/enc.key'), 'utf8');
    expect(pem.startsWith('-----BEGIN ENCRYPTED PRIVATE KEY-----\n')).toBe(true);
    // openssl reads it as PKCS#8 (PBES2) with the passphrase and not without.
    const ok = await execa('openssl', ['pkey', '-in', 'keys/enc.key', '-passin', `env:AIRGAP_KEY_PASSPHRASE`, '-noout'], {
      cwd: dir,
      env: PASS,
      reject: false,
    });
    expect(ok.exitCode).toBe(0);
    const r = await build(dir, 'keys/enc.key', PASS);
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
    const v = await cli('applier', ['verify', 'bundle.tar', '--pub', 'keys/enc.pub'], { cwd: dir });
    expect(v.exitCode).toBe(0);
  });

  it('a wrong passphrase or none fails with KEY_PASSPHRASE and writes no bundle', async () => {
    const dir = await site();
    expect((await cli('bundler', ['keygen', '--encrypt', '--out', 'keys/enc'], { cwd: dir, env: PASS })).exitCode).toBe(0);
    const wrong = await build(dir, 'keys/enc.key', { AIRGAP_KEY_PASSPHRASE: 'Tr0ub4dor&3' });
    expect(wrong.exitCode).toBe(2);
    expect(wrong.stderr).toContain('error[KEY_PASSPHRASE]: cannot decrypt keys/enc.key: wrong passphrase');
    expect(wrong.stderr).not.toContain('Tr0ub4dor');
    // No variable and no terminal (the test's stdin is a pipe): nothing to ask.
    const none = await build(dir, 'keys/enc.key');
    expect(none.exitCode).toBe(2);
    expect(none.stderr).toContain('error[KEY_PASSPHRASE]: keys/enc.key is encrypted and no passphrase was given');
    expect(none.stderr).toContain('AIRGAP_KEY_PASSPHRASE');
    expect(await bundleFiles(dir)).toEqual([]);
  });

  it('keygen --encrypt refuses an empty passphrase; a key re-encrypted by openssl (scrypt) loads too', async () => {
    const dir = await site();
    const empty = await cli('bundler', ['keygen', '--encrypt', '--out', 'keys/enc'], { cwd: dir, env: { AIRGAP_KEY_PASSPHRASE: '' } });
    expect(empty.exitCode).toBe(2);
    expect(empty.stderr).toContain('error[KEY_PASSPHRASE]: --encrypt needs a passphrase');
    expect(await readdir(path.join(dir, 'keys'))).toEqual(['site.key', 'site.pub']);
    // A site that wants a slower KDF than Node's PBKDF2 default re-encrypts the plain key with openssl.
    await execa('openssl', ['pkcs8', '-topk8', '-scrypt', '-in', 'keys/site.key', '-out', 'keys/scrypt.key', '-passout', 'env:AIRGAP_KEY_PASSPHRASE'], {
      cwd: dir,
      env: PASS,
    });
    const r = await build(dir, 'keys/scrypt.key', PASS);
    expect(r.exitCode).toBe(0);
  });
});
