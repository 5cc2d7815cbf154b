import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { chmod, copyFile, mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';

export interface SnapFixtureOptions {
  dir: string;
  name: string;
  revision: number;
  type?: 'app' | 'base' | 'snapd';
  base?: string;
  confinement?: 'strict' | 'classic';
  /**
   * meta/snap.yaml `version`. Default: `<revision>.0`, except the k8s snap, whose version is the
   * Kubernetes version it was built from, as upstream's snapcraft.yaml sets it (`v1.32.0` by
   * default, the site fixture's channel; pass e.g. `v1.36.0` for another release, or `3001.0`
   * for a snap whose version names no release).
   */
  version?: string;
  /** Lines of images.txt at the snap's root (the k8s snap carries one). */
  images?: string[];
  /** Extra payload so sizes differ; bytes of pseudo-random content. */
  payloadBytes?: number;
  /** A file copied in as the payload instead (benchmarks: large, incompressible). */
  payloadFile?: string;
  /** 'none' stores data uncompressed: fast to make at gigabyte sizes. */
  compression?: 'xz' | 'none';
  /** meta/snap.yaml `architectures` (the store's snaps list theirs, e.g. [amd64]). */
  architectures?: string[];
  /** Files copied into the snap (path inside it → file), mode 0755: the k8s snap's bin/helm. */
  files?: Record<string, string>;
  /** Make the assertion lie, for tests of refusal. */
  tamper?: { sha3?: string; size?: number; declaredName?: string };
}

export interface SnapFixture {
  snapPath: string;
  assertPath: string;
  sha3_384: string;
  size: number;
  snapId: string;
}

/** A real squashfs snap made with mksquashfs, plus a .assert shaped like the store's. */
export async function makeSnap(o: SnapFixtureOptions): Promise<SnapFixture> {
  const tree = await mkdtemp(path.join(tmpdir(), 'airgap-snap-'));
  try {
    await mkdir(path.join(tree, 'meta'), { recursive: true });
    const version = o.version ?? (o.name === 'k8s' ? 'v1.32.0' : `${o.revision}.0`);
    const yaml = [`name: ${o.name}`, `version: '${version}'`, `type: ${o.type ?? 'app'}`];
    if (o.base) yaml.push(`base: ${o.base}`);
    yaml.push(`confinement: ${o.confinement ?? 'strict'}`, 'summary: test fixture');
    if (o.architectures) yaml.push(`architectures: [${o.architectures.join(', ')}]`);
    for (const [inner, from] of Object.entries(o.files ?? {})) {
      await mkdir(path.dirname(path.join(tree, inner)), { recursive: true });
      await copyFile(from, path.join(tree, inner));
      await chmod(path.join(tree, inner), 0o755);
    }
    await writeFile(path.join(tree, 'meta', 'snap.yaml'), `${yaml.join('\n')}\n`);
    if (o.images) await writeFile(path.join(tree, 'images.txt'), `${o.images.join('\n')}\n`);
    if (o.payloadFile) {
      await copyFile(o.payloadFile, path.join(tree, 'payload.bin'));
    } else {
      // Hash-chained bytes: deterministic, and incompressible so snap sizes are what they say.
      const payload = Buffer.alloc(o.payloadBytes ?? 4096);
      let block = createHash('sha256').update(`${o.name}_${o.revision}`).digest();
      for (let i = 0; i < payload.length; i += 32) {
        block.copy(payload, i);
        block = createHash('sha256').update(block).digest();
      }
      await writeFile(path.join(tree, 'payload.bin'), payload);
    }
    await mkdir(o.dir, { recursive: true });
    const snapPath = path.join(o.dir, `${o.name}_${o.revision}.snap`);
    await rm(snapPath, { force: true });
    const compression = o.compression === 'none' ? ['-noI', '-noD', '-noF', '-noX'] : ['-comp', 'xz'];
    await execa('mksquashfs', [
      tree,
      snapPath,
      '-noappend',
      ...compression,
      '-all-root',
      '-no-xattrs',
      '-mkfs-time',
      '0',
      '-all-time',
      '0',
      '-quiet',
      '-no-progress',
    ]);
    const sha3 = createHash('sha3-384');
    for await (const chunk of createReadStream(snapPath)) sha3.update(chunk as Buffer);
    const sha3_384 = sha3.digest('base64url');
    const size = (await stat(snapPath)).size;
    const snapId = createHash('sha256').update(o.name).digest('hex').slice(0, 32);
    const assertPath = path.join(o.dir, `${o.name}_${o.revision}.assert`);
    await writeFile(assertPath, assertionStream({ ...o, sha3: o.tamper?.sha3 ?? sha3_384, size: o.tamper?.size ?? size, snapId }));
    return { snapPath, assertPath, sha3_384, size, snapId };
  } finally {
    await rm(tree, { recursive: true, force: true });
  }
}

function assertionStream(o: SnapFixtureOptions & { sha3: string; size: number; snapId: string }): string {
  const sig = (seed: string) =>
    createHash('sha512')
      .update(seed)
      .digest('base64')
      .repeat(3)
      .match(/.{1,76}/g)!
      .join('\n');
  const keyBody = createHash('sha512').update('key').digest('base64');
  return (
    [
      `type: account-key\nauthority-id: canonical\npublic-key-sha3-384: testkey\naccount-id: canonical\nname: store\nsince: 2016-04-01T00:00:00.0Z\nbody-length: ${keyBody.length}\nsign-key-sha3-384: root\n\n${keyBody}\n\n${sig('a')}`,
      `type: snap-declaration\nauthority-id: canonical\nseries: 16\nsnap-id: ${o.snapId}\npublisher-id: canonical\nsnap-name: ${o.tamper?.declaredName ?? o.name}\ntimestamp: 2024-01-01T00:00:00.0Z\nsign-key-sha3-384: testkey\n\n${sig('b')}`,
      `type: snap-revision\nauthority-id: canonical\nsnap-sha3-384: ${o.sha3}\ndeveloper-id: canonical\nsnap-id: ${o.snapId}\nsnap-revision: ${o.revision}\nsnap-size: ${o.size}\ntimestamp: 2024-01-01T00:00:00.0Z\nsign-key-sha3-384: testkey\n\n${sig('c')}`,
    ].join('\n\n') + '\n'
  );
}
