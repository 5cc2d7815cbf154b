// One pull of the given images into an empty cache, as `bundler build` does it, for the bench to
// time under /usr/bin/time. Usage: pull-driver CACHE_DIR PLATFORMS REGISTRY_URL REF...
import { pullImages } from '../packages/bundler/src/oci/pull-images.ts';

const [cacheDir, platforms, url, ...refs] = process.argv.slice(2);
const host = new URL(url!).host;
const r = await pullImages({
  refs,
  platforms: platforms!.split(','),
  registries: { [host]: { endpoint: url!, plainHttp: true } },
  specDir: cacheDir!,
  cacheDir: cacheDir!,
});
process.stderr.write(`pulled ${r.images.length} images, ${r.fetched} blobs\n`);
