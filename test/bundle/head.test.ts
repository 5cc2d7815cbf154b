import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { cli } from '../support/cli.ts';
import { site } from '../support/site-fixture.ts';

const EPOCH = { SOURCE_DATE_EPOCH: '1700000000' };

describe('bundler inspect --head', () => {
  it('writes the signed head (the bundle’s first two entries, then the end marker), which verifies on its own and is no bundle to apply', async () => {
    const dir = await site();
    await mkdir(path.join(dir, 'parts'));
    const build = (args: string[]) => cli('bundler', ['build', 'airgap.yaml', '--key', 'keys/site.key', '--no-applier', ...args], { cwd: dir, env: EPOCH });
    expect((await build(['-o', 'a.tar'])).exitCode).toBe(0);
    expect((await build(['-o', 'parts/a.tar', '--split', '8K'])).exitCode).toBe(0);

    const r = await cli('bundler', ['inspect', '--head', 'a.tar', '-o', 'old.head'], { cwd: dir });
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(/^wrote old\.head \(\S+ \S+\): the signed head of test-site, created 2023-11-14T22:13:20/);
    const head = await readFile(path.join(dir, 'old.head'));
    const bundle = await readFile(path.join(dir, 'a.tar'));
    expect(head.length).toBeLessThan(64 * 1024);
    // The bundle's own bytes up to the end of the signature entry, then two zero blocks.
    expect(head.subarray(0, head.length - 1024).equals(bundle.subarray(0, head.length - 1024))).toBe(true);
    expect(head.subarray(head.length - 1024).every((b) => b === 0)).toBe(true);
    expect(bundle.subarray(head.length - 1024, head.length - 1024 + 100).toString('latin1')).toMatch(/^airgap\/SHA256SUMS\0/);
    // From the parts (their folder), the same head.
    expect((await cli('bundler', ['inspect', '--head', 'parts', '-o', 'parts.head'], { cwd: dir })).exitCode).toBe(0);
    expect((await readFile(path.join(dir, 'parts.head'))).equals(head)).toBe(true);

    // Verified on its own, with the bundle's digest.
    const v = await cli('bundler', ['verify', 'old.head', '--pub', 'keys/site.pub'], { cwd: dir });
    expect(v.exitCode).toBe(0);
    expect(v.stdout).toMatch(/^OK old\.head \(a signed head: manifest and signature only\)\n/);
    const whole = await cli('bundler', ['verify', 'a.tar', '--pub', 'keys/site.pub'], { cwd: dir });
    const digest = (text: string) => /digest {2}(sha256:[0-9a-f]{64})/.exec(text)?.[1];
    expect(digest(v.stdout)).toBeDefined();
    expect(digest(v.stdout)).toBe(digest(whole.stdout));
    expect(r.stdout).toContain(`digest  ${digest(whole.stdout)!}`);
    // And with nothing but tar and openssl.
    const keyPem = await readFile(path.join(dir, 'keys/site.pub'), 'utf8');
    await writeFile(path.join(dir, 'airgap.pub'), keyPem);
    const listed = await execa('tar', ['-tf', 'old.head'], { cwd: dir });
    expect(listed.stdout.split('\n')).toEqual(['airgap/manifest.json', 'airgap/manifest.sig']);
    await mkdir(path.join(dir, 'check'));
    await execa('tar', ['-xf', '../old.head'], { cwd: path.join(dir, 'check') });
    const ssl = await execa(
      'openssl',
      ['pkeyutl', '-verify', '-pubin', '-inkey', '../airgap.pub', '-rawin', '-in', 'airgap/manifest.json', '-sigfile', 'airgap/manifest.sig'],
      { cwd: path.join(dir, 'check'), reject: false },
    );
    expect(ssl.stdout).toContain('Signature Verified Successfully');

    // Another key, or a changed byte of the manifest: refused.
    expect((await cli('bundler', ['keygen', '--out', 'keys/other'], { cwd: dir })).exitCode).toBe(0);
    const other = await cli('bundler', ['verify', 'old.head', '--pub', 'keys/other.pub'], { cwd: dir });
    expect(other.exitCode).toBe(2);
    expect(other.stderr).toContain('error[SIGNATURE_INVALID]: old.head is not signed by a trusted key');
    const altered = Buffer.from(head);
    const at = altered.indexOf('"name":"test-site"');
    altered[at + 9] = 'T'.charCodeAt(0);
    await writeFile(path.join(dir, 'altered.head'), altered);
    const bad = await cli('bundler', ['verify', 'altered.head', '--pub', 'keys/site.pub'], { cwd: dir });
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toContain('error[SIGNATURE_INVALID]');

    // Not a bundle: the applier names what it is.
    const apply = await cli('applier', ['verify', 'old.head', '--pub', 'keys/site.pub', '--root', path.join(dir, 'no-root')], { cwd: dir });
    expect(apply.exitCode).toBe(2);
    expect(apply.stderr).toContain('error[BUNDLE_INVALID]: old.head is the signed head of bundle test-site');

    // --head needs -o, and -o needs --head.
    const noOut = await cli('bundler', ['inspect', '--head', 'a.tar'], { cwd: dir });
    expect(noOut.exitCode).toBe(2);
    expect(noOut.stderr).toContain('error[USAGE]: --head needs -o FILE');
    const noHead = await cli('bundler', ['inspect', 'a.tar', '-o', 'x.head'], { cwd: dir });
    expect(noHead.exitCode).toBe(2);
    expect(noHead.stderr).toContain('error[USAGE]: -o is only for --head');
  });
});
