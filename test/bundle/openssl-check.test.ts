import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { testdir } from '../support/tmpdir.ts';
import { smallBundle } from './bundle-helpers.ts';

const docs = path.resolve(import.meta.dirname, '../../docs/bundle-format.md');

/** The shell block between the verify-with-openssl markers in docs/bundle-format.md, verbatim. */
async function documentedCommands(): Promise<string> {
  const text = await readFile(docs, 'utf8');
  const m = /<!-- verify-with-openssl:begin -->\n```sh\n([\s\S]*?)```\n<!-- verify-with-openssl:end -->/.exec(text);
  if (!m?.[1]) throw new Error('no verify-with-openssl block in docs/bundle-format.md');
  return m[1];
}

describe('the documented tar + openssl check', () => {
  it('passes on an intact bundle', async () => {
    const dir = await testdir();
    const { file, keys } = await smallBundle(dir);
    await writeFile(path.join(dir, 'airgap.pub'), keys.publicPem);
    const r = await execa('bash', ['-euo', 'pipefail', '-c', await documentedCommands()], { cwd: dir, reject: false, stdin: 'ignore' });
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
    expect(r.stdout.split('\n')).toEqual(['Signature Verified Successfully', '1']);
    expect(path.basename(file)).toBe('bundle.tar');
  });

  it('fails on a bundle signed by another key', async () => {
    const dir = await testdir();
    await smallBundle(dir);
    const other = await testdir();
    const { keys } = await smallBundle(other);
    await writeFile(path.join(dir, 'airgap.pub'), keys.publicPem);
    const r = await execa('bash', ['-euo', 'pipefail', '-c', await documentedCommands()], { cwd: dir, reject: false, stdin: 'ignore' });
    expect(r.exitCode).not.toBe(0);
    expect(r.stdout).not.toContain('Signature Verified Successfully');
  });

  it('fails when a payload file was altered', async () => {
    const dir = await testdir();
    const { file, keys } = await smallBundle(dir);
    await writeFile(path.join(dir, 'airgap.pub'), keys.publicPem);
    const bytes = await readFile(file);
    const at = bytes.indexOf(Buffer.from('x'.repeat(700)));
    bytes[at + 5] = 0x79;
    await writeFile(file, bytes);
    const r = await execa('bash', ['-euo', 'pipefail', '-c', await documentedCommands()], { cwd: dir, reject: false, stdin: 'ignore' });
    expect(r.exitCode).not.toBe(0);
    expect(r.stdout + r.stderr).toContain('snaps/k8s_1.snap: FAILED');
  });
});
