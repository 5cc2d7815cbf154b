// Kept out of registry.ts: testdir registers a vitest afterEach when loaded, and bench/ imports
// registry.ts outside vitest.
import { makeImage, type MadeImage, type MakeImageOptions } from './oci-images.ts';
import { pushLayout, type TestRegistry } from './registry.ts';
import { testdir } from './tmpdir.ts';

/**
 * Make each image (makeImage) in one OCI layout, a temp folder of the test, and push it to its
 * `repository:tag` in the registry (pushLayout); the made images, by that name.
 * `await pushTestImages(reg, { 'library/app:1.0': { platforms: ['linux/amd64'] } })`
 */
export async function pushTestImages<K extends string>(
  registry: TestRegistry,
  images: Record<K, Omit<MakeImageOptions, 'layoutDir' | 'tag'>>,
): Promise<Record<K, MadeImage>> {
  const layout = await testdir();
  const made = {} as Record<K, MadeImage>;
  for (const [i, [dest, o]] of (Object.entries(images) as [K, Omit<MakeImageOptions, 'layoutDir' | 'tag'>][]).entries()) {
    made[dest] = await makeImage({ ...o, layoutDir: layout, tag: `i${i}` });
    await pushLayout(registry, layout, `i${i}`, dest);
  }
  return made;
}
