// Makes the quick-start's snaps as local fixtures (real squashfs snaps with matching .assert
// files), so the example builds with no network. Run through scripts/quickstart.sh.
import path from 'node:path';
import { makeSnap } from '../test/support/snap-fixture.ts';

const dir = path.resolve(process.argv[2] ?? 'examples/quickstart/downloads');
const snaps = [
  makeSnap({ dir, name: 'snapd', revision: 21759, type: 'snapd', payloadBytes: 256 * 1024 }),
  makeSnap({ dir, name: 'core20', revision: 2264, type: 'base', payloadBytes: 512 * 1024 }),
  makeSnap({
    dir,
    name: 'k8s',
    revision: 3456,
    base: 'core20',
    confinement: 'classic',
    payloadBytes: 1024 * 1024,
    images: ['ghcr.io/canonical/k8s-snap/pause:3.10'],
  }),
];
for (const s of await Promise.all(snaps)) process.stdout.write(`made ${path.relative(process.cwd(), s.snapPath)} (+ .assert)\n`);
