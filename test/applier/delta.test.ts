import { open, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { describe, expect, test } from 'vitest';
import { makeBundle } from '../support/bundle-fixture.ts';
import { containerdForTest, ctr, ctrImages } from '../support/containerd.ts';
import { appImage, deltaPair, sixImages } from '../bundle/delta-fixture.ts';
import { hashTree, makeNode, type TestNode } from './node-env.ts';

/** Name → target digest, from the real `ctr images ls`. */
const images = (address: string) => ctrImages(address, 'digest');

/** Each image's blobs are all in containerd's content store: `ctr images check` says complete. */
async function complete(address: string, refs: string[]): Promise<void> {
  const out = String((await ctr(address, 'images', 'check')).stdout);
  for (const ref of refs) expect(out.split('\n').find((l) => l.startsWith(`${ref} `)) ?? `${ref} missing`, ref).toMatch(/complete \((\d+)\/\1\)/);
}

const apply = (node: TestNode, address: string, file: string, pub: string, ...more: string[]) =>
  node.applier(['apply', file, '--pub', pub, '--ctr', 'ctr', '--containerd-address', address, ...more]);

/** Every blob the delta's images need, by digest: the delta's own entries and what it leaves out. */
const wantedRefs = (m: { images: { ref: string; digest: string }[] }) => Object.fromEntries(m.images.map((i) => [i.ref, i.digest]));

describe('applier apply of a delta bundle, with a real containerd', () => {
  test('on a node that applied the base: what the delta leaves out comes from containerd and the installed snaps; no --base needed', async () => {
    const containerd = await containerdForTest();
    const node = await makeNode();
    // A seventh name in the delta for app0's very image: its manifest is in the delta, its config
    // and layer are not, so the import stream lacks them and containerd must take them from its store.
    const { base, delta } = await deltaPair(node.work, { extra: [appImage(0, { ref: 'registry.example/site/app0-copy:1.0' })] });

    const first = await apply(node, containerd.address, base.file, base.pubFile);
    expect(first.stderr).toBe('');
    expect(first.exitCode).toBe(0);
    const callsAfterBase = (await node.calls()).length;

    const v = await node.applier(['verify', delta.file, '--pub', delta.pubFile]);
    expect(v.exitCode).toBe(0);
    const plan = await node.applier(['plan', delta.file, '--pub', delta.pubFile, '--ctr', 'ctr', '--containerd-address', containerd.address, '--json']);
    expect(plan.exitCode).toBe(0);
    const rows = (JSON.parse(plan.stdout) as { steps: { id: string; status: string; changes: { action: string; target: string }[] }[] }).steps;
    expect(rows.find((s) => s.id === 'preflight')?.status).toBe('ok');
    expect(rows.find((s) => s.id === 'snaps')?.status).toBe('ok');
    expect(rows.find((s) => s.id === 'images')?.changes.map((c) => `${c.action} ${c.target}`)).toEqual([
      'import registry.example/site/app5:1.0',
      'import registry.example/site/app0-copy:1.0',
    ]);

    const second = await apply(node, containerd.address, delta.file, delta.pubFile);
    expect(second.stderr).toBe('');
    expect(second.exitCode).toBe(0);
    expect(second.stdout).toContain('imported registry.example/site/app5:1.0, registry.example/site/app0-copy:1.0');
    // No snap was installed again: all three were left out, and are installed at those revisions.
    expect((await node.calls()).slice(callsAfterBase).filter((c) => c.startsWith('snap install'))).toEqual([]);
    const have = await images(containerd.address);
    for (const [ref, digest] of Object.entries(wantedRefs(delta.manifest))) expect(have[ref], ref).toBe(digest);
    await complete(containerd.address, Object.keys(wantedRefs(delta.manifest)));
    // The changed image is usable: a container can be made from it.
    await ctr(containerd.address, 'containers', 'create', '--snapshotter', 'native', 'registry.example/site/app5:1.0', 'app5-1');
    await ctr(containerd.address, 'containers', 'create', '--snapshotter', 'native', 'registry.example/site/app0-copy:1.0', 'app0-copy-1');
    // Again: nothing to do.
    const again = await apply(node, containerd.address, delta.file, delta.pubFile);
    expect(again.exitCode).toBe(0);
    expect(again.stdout).toContain('converged: nothing changed');
  });

  test('on a fresh node: refused with exit 2 naming the base and nothing changed; accepted with --base (file or folder of parts); a wrong or altered base is refused', async () => {
    const containerd = await containerdForTest();
    const node = await makeNode();
    const { base, delta, baseDigest } = await deltaPair(node.work);
    const before = await hashTree(node.root);
    const contentBefore = String((await ctr(containerd.address, 'content', 'ls', '-q')).stdout);

    const refused = await apply(node, containerd.address, delta.file, delta.pubFile);
    expect(refused.exitCode).toBe(2);
    expect(refused.stderr).toContain(`error[DELTA_BASE_MISSING]: preflight: this is a delta of site #1 sha256:${baseDigest}, which this node has not applied`);
    expect(refused.stderr).toContain(`pass --base with the base bundle site #1 sha256:${baseDigest}`);
    expect(refused.stderr).toContain('nothing was changed');
    expect(await hashTree(node.root)).toEqual(before);
    expect(String((await ctr(containerd.address, 'content', 'ls', '-q')).stdout)).toBe(contentBefore);
    expect((await node.calls()).filter((c) => c.startsWith('snap install') || c.startsWith('snap ack'))).toEqual([]);
    const planned = await node.applier(['plan', delta.file, '--pub', delta.pubFile, '--ctr', 'ctr', '--containerd-address', containerd.address]);
    expect(planned.stdout).toMatch(/fail   preflight  +this is a delta of site #1 sha256:[0-9a-f]{64}, which this node has not applied/);

    // Another validly signed bundle as --base: not the one the delta names.
    const other = await makeBundle({ dir: path.join(node.work, 'other'), keys: base.keys, name: 'site', images: sixImages({ changed: [1] }) });
    const wrong = await apply(node, containerd.address, delta.file, delta.pubFile, '--base', other.file);
    expect(wrong.exitCode).toBe(2);
    expect(wrong.stderr).toContain(`error[DELTA_BASE_MISMATCH]: ${other.file} is bundle site sha256:`);
    expect(wrong.stderr).toContain(`but ${delta.file} is a delta of site sha256:${baseDigest}`);

    // The base with one byte of a blob the delta leaves out changed: refused before anything changes.
    const altered = path.join(node.work, 'altered.tar');
    await execa('cp', [base.file, altered]);
    const blob = delta.manifest.base!.omitted.find((e) => e.path.startsWith('images/blobs/'))!;
    const offset = await entryOffset(altered, blob.path);
    const fh = await open(altered, 'r+');
    await fh.write(Buffer.from('X'), 0, 1, offset + 10);
    await fh.close();
    const bad = await apply(node, containerd.address, delta.file, delta.pubFile, '--base', altered);
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toContain(`error[DIGEST_MISMATCH]: ${blob.path} has sha256`);
    expect(await hashTree(node.root)).toEqual(before);

    // The base in parts, by its folder: read across the parts without joining them.
    const parts = path.join(node.work, 'base-parts');
    await execa('mkdir', [parts]);
    await execa('split', ['-b', '64K', '-d', '-a', '3', base.file, path.join(parts, 'base.tar.')]);
    expect((await readdir(parts)).length).toBeGreaterThan(3);
    const ok = await apply(node, containerd.address, delta.file, delta.pubFile, '--base', parts);
    expect(ok.stderr).toBe('');
    expect(ok.exitCode).toBe(0);
    expect((await node.calls()).filter((c) => c.startsWith('snap install')).length).toBe(3);
    const have = await images(containerd.address);
    for (const [ref, digest] of Object.entries(wantedRefs(delta.manifest))) expect(have[ref], ref).toBe(digest);
    await complete(containerd.address, Object.keys(wantedRefs(delta.manifest)));
    // The node now has what the delta leaves out: the delta applies again without --base.
    const again = await apply(node, containerd.address, delta.file, delta.pubFile);
    expect(again.exitCode).toBe(0);
    expect(again.stdout).toContain('converged: nothing changed');
    expect((await stat(delta.file)).size).toBeLessThan((await stat(base.file)).size / 3);
  });
});

/** Byte offset of an entry's data in a bundle tar (header by header). */
async function entryOffset(file: string, entry: string): Promise<number> {
  const fh = await open(file, 'r');
  try {
    const header = Buffer.alloc(512);
    for (let at = 0; ;) {
      await fh.read(header, 0, 512, at);
      const name = header.subarray(0, 100).toString('latin1').replace(/\0.*$/s, '');
      if (!name) throw new Error(`${entry} not in ${file}`);
      const size = parseInt(header.subarray(124, 136).toString('latin1').replace(/\0.*$/s, '').trim(), 8);
      if (name === entry) return at + 512;
      at += 512 + Math.ceil(size / 512) * 512;
    }
  } finally {
    await fh.close();
  }
}
