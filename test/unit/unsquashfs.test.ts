import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { isAirgapError } from '@airgap/core';
import { catFromSquashfs } from '../../packages/bundler/src/tools/unsquashfs.ts';
import { testdir } from '../support/tmpdir.ts';

// The real squashfs-tools: what unsquashfs -cat says for a file, a missing path and a damaged image.
describe('catFromSquashfs', () => {
  it('reads a file, gives undefined for a path the image lacks, and SNAP_INVALID for a damaged image', async () => {
    const dir = await testdir({ 'tree/meta/snap.yaml': 'name: x\n' });
    const image = path.join(dir, 'x.snap');
    await execa('mksquashfs', [path.join(dir, 'tree'), image, '-quiet', '-noappend']);
    expect(await catFromSquashfs(image, 'meta/snap.yaml')).toBe('name: x');
    expect(await catFromSquashfs(image, 'images.txt')).toBeUndefined();
    const junk = path.join(dir, 'junk.snap');
    await writeFile(junk, 'not a squashfs image');
    const err: unknown = await catFromSquashfs(junk, 'meta/snap.yaml').catch((e: unknown) => e);
    expect(isAirgapError(err, 'SNAP_INVALID'), String(err)).toBe(true);
  });
});
