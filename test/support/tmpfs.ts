import { statfs, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { afterEach } from 'vitest';
// Imported for its afterEach, registered before ours: vitest runs after-hooks last-registered
// first, so a tmpfs is unmounted before testdir() removes the folder it is mounted in.
import './tmpdir.ts';

const mounted: string[] = [];

afterEach(async () => {
  for (const dir of mounted.splice(0).reverse()) await execa('umount', [dir], { reject: false });
});

/**
 * A small file system at `dir` (the tests run as root): a disk that fills up on demand. Its root
 * is mode 0755, like a folder mkdir made (a tmpfs root is 1777 by default). Unmounted after the test.
 */
export async function mountTmpfs(dir: string, bytes: number): Promise<void> {
  await execa('mount', ['-t', 'tmpfs', '-o', `size=${bytes},mode=755`, 'tmpfs', dir]);
  mounted.push(dir);
}

/** Bytes a non-root writer could still use on the file system holding `dir`. */
export async function freeBytes(dir: string): Promise<number> {
  const s = await statfs(dir);
  return s.bavail * s.bsize;
}

export const FILLER = '.airgap-test-filler';

/**
 * Fill the tmpfs mounted at `dir` with one file, `dir/.airgap-test-filler`, so that exactly
 * `leave` bytes stay free (a multiple of the page size); removing that file frees the space again.
 */
export async function fillTmpfs(dir: string, leave: number): Promise<string> {
  const file = path.join(dir, FILLER);
  const size = (await freeBytes(dir)) - leave;
  if (size < 0) throw new Error(`${dir} has less than ${leave} bytes free`);
  await writeFile(file, Buffer.alloc(size, 1));
  const left = await freeBytes(dir);
  if (left !== leave) throw new Error(`${dir}: wanted ${leave} bytes free, ${left} are`);
  return file;
}
