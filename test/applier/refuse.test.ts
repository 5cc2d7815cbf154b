import { open, mkdir, writeFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { describe, expect, test } from 'vitest';
import { makeBundle } from '../support/bundle-fixture.ts';
import { hashTree, makeNode } from './node-env.ts';

async function seed(root: string): Promise<void> {
  await mkdir(path.join(root, 'etc/containerd/hosts.d/docker.io'), { recursive: true });
  await writeFile(path.join(root, 'etc/containerd/hosts.d/docker.io/hosts.toml'), 'server = "https://old"\n');
  await writeFile(path.join(root, 'etc/environment'), 'LANG=C.UTF-8\n');
}

const bundleOptions = (dir: string) => ({
  dir,
  hosts: { 'docker.io/hosts.toml': 'server = "https://registry-1.docker.io"\n' },
  images: [{ ref: 'docker.io/library/hello:1.0', files: { 'hello.txt': 'hello\n' } }],
  proxy: { http: 'http://proxy:3128', noProxy: [] },
  bootstrap: true as const,
});

describe('applier refuses bad bundles before touching the node', () => {
  test('a tampered bundle: exit 2, node tree byte-for-byte unchanged, no tool run', async () => {
    const node = await makeNode();
    await seed(node.root);
    const b = await makeBundle(bundleOptions(node.work));
    const size = (await stat(b.file)).size;
    // Flip one byte of the payload near the end (the image blobs and snaps come after the manifest).
    const fh = await open(b.file, 'r+');
    const at = size - 2048;
    const byte = Buffer.alloc(1);
    await fh.read(byte, 0, 1, at);
    byte[0] = byte[0]! ^ 0x01;
    await fh.write(byte, 0, 1, at);
    await fh.close();
    const before = await hashTree(node.root);
    for (const command of ['apply', 'plan']) {
      const r = await node.applier([command, b.file, '--pub', b.pubFile]);
      expect(r.exitCode).toBe(2);
      expect(r.stderr).toMatch(/error\[(DIGEST_MISMATCH|BUNDLE_INVALID)\]/);
    }
    expect(await hashTree(node.root)).toEqual(before);
    expect(await node.calls()).toEqual([]);
  });

  test('a bundle signed by an untrusted key, or no key at all: exit 2, nothing changed', async () => {
    const node = await makeNode();
    await seed(node.root);
    const b = await makeBundle(bundleOptions(node.work));
    const other = await makeBundle({ dir: path.join(node.work, 'other'), snaps: [] });
    const before = await hashTree(node.root);
    const wrongKey = await node.applier(['apply', b.file, '--pub', other.pubFile]);
    expect(wrongKey.exitCode).toBe(2);
    expect(wrongKey.stderr).toContain('error[SIGNATURE_INVALID]');
    // No --pub and nothing in <root>/etc/airgap/trusted.d.
    const noKey = await node.applier(['apply', b.file]);
    expect(noKey.exitCode).toBe(2);
    expect(noKey.stderr).toContain('error[SIGNATURE_INVALID]');
    expect(await hashTree(node.root)).toEqual(before);
    expect(await node.calls()).toEqual([]);
  });

  test('keys in <root>/etc/airgap/trusted.d are used when no --pub is given', async () => {
    const node = await makeNode();
    const b = await makeBundle({ dir: node.work, snaps: [] });
    await mkdir(path.join(node.root, 'etc/airgap/trusted.d'), { recursive: true });
    await writeFile(path.join(node.root, 'etc/airgap/trusted.d/site.pub'), b.keys.publicPem);
    const r = await node.applier(['verify', b.file]);
    expect(r.stderr).toBe('');
    expect(r.stdout).toContain(`signer  ${b.keys.fingerprint}`);
  });

  test('preflight failure (no default route, none in the bundle): exit 1, nothing changed', async () => {
    const node = await makeNode({ defaultRoute: false });
    const b = await makeBundle({ dir: node.work, hosts: { 'docker.io/hosts.toml': 'server = "x"\n' } });
    const r = await node.applier(['apply', b.file, '--pub', b.pubFile]);
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toMatch(/^fail +preflight +the node has no default route/m);
    expect(r.stderr).toContain('error[PREFLIGHT_FAILED]');
    expect(await hashTree(node.root)).toEqual({});
    expect((await node.calls()).filter((c) => !/^snap (version|list)/.test(c))).toEqual([]);
  });

  test('preflight refuses a foreign /run/containerd before bootstrap', async () => {
    const node = await makeNode();
    await mkdir(path.join(node.root, 'run/containerd'), { recursive: true });
    const b = await makeBundle({ dir: node.work, bootstrap: true });
    const before = await hashTree(node.root);
    const r = await node.applier(['apply', b.file, '--pub', b.pubFile]);
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toMatch(/another containerd \(or Docker\) owns \/run\/containerd/);
    expect(await hashTree(node.root)).toEqual(before);
  });

  test('preflight refuses k8s ports another program holds before bootstrap or join (the k8s pre-init check would, after every other change)', async () => {
    const node = await makeNode();
    // Another program on the node listens on 6443 and 10250 (in the node's network namespace).
    const holder = execa('ip', ['netns', 'exec', node.netns.name, process.execPath, '-e', HOLD, '6443', '10250'], { reject: false });
    try {
      await new Promise<void>((resolve) => holder.stdout?.once('data', () => resolve()));
      const b = await makeBundle({ dir: node.work, bootstrap: true });
      const r = await node.applier(['apply', b.file, '--pub', b.pubFile]);
      expect(r.exitCode).toBe(1);
      expect(r.stdout).toMatch(/^fail +preflight .*already listens on 6443 \(kube-apiserver\), 10250 \(kubelet\)/m);
      expect(r.stderr).toContain('error[PREFLIGHT_FAILED]');
      expect(await hashTree(node.root)).toEqual({});
      expect((await node.calls()).filter((c) => !/^(snap version|snap list|k8s local-node-status)/.test(c))).toEqual([]);
    } finally {
      holder.kill();
      await holder;
    }
  });
});

/** Listens on the ports given as arguments, prints one line once it does, until killed. */
const HOLD = `const net = require('node:net');
let n = 0; const ports = process.argv.slice(1);
for (const p of ports) net.createServer().listen(Number(p), () => { if (++n === ports.length) console.log('listening'); });`;
