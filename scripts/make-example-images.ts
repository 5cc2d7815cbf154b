// Seeds the quick-start's stand-in registry (a local docker-registry playing the part of a
// pull-through mirror) with small real images under the names the example spec pulls.
// Usage: make-example-images.ts HOST:PORT   (run by scripts/quickstart.sh)
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { makeImage } from '../test/support/oci-images.ts';
import { pushLayout } from '../test/support/registry.ts';

const host = process.argv[2] ?? '127.0.0.1:5599';
const layout = await mkdtemp(path.join(tmpdir(), 'airgap-example-images-'));
try {
  const images: [string, string][] = [
    ['hello', 'library/hello:1.0'],
    ['pause', 'canonical/k8s-snap/pause:3.10'],
  ];
  for (const [tag, repo] of images) {
    await makeImage({ layoutDir: layout, tag, platforms: ['linux/amd64', 'linux/arm64'], layerSizes: [64 * 1024], gzip: true, seeded: true });
    await pushLayout({ host, url: `http://${host}`, requests: () => Promise.resolve([]), stop: () => Promise.resolve() }, layout, tag, repo);
    process.stdout.write(`pushed ${host}/${repo}\n`);
  }
} finally {
  await rm(layout, { recursive: true, force: true });
}
