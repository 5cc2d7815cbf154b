import path from 'node:path';
import { expect } from 'vitest';
import { cli } from './cli.ts';
import { makeSnap } from './snap-fixture.ts';
import { testdir } from './tmpdir.ts';

export const TEST_CA = '-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n';

export interface SiteOptions {
  name?: string;
  channel?: string;
  /** false: no sources.snapsDir; the snaps go to ./store for a fake `snap download`. */
  snapsDir?: boolean;
  extra?: string;
}

/** airgap.yaml for a site with mirrors (one with a CA), a bootstrap config and local snaps. */
export function siteSpec(o: SiteOptions = {}): string {
  return [
    'apiVersion: airgap/v1alpha1',
    'kind: Bundle',
    `metadata: {name: ${o.name ?? 'test-site'}}`,
    'k8s:',
    `  channel: ${o.channel ?? '1.32-classic/stable'}`,
    ...(o.snapsDir === false ? [] : ['sources:', '  snapsDir: ./downloads']),
    'images: {k8sFeatures: false}',
    'containerd:',
    '  mirrors:',
    '    - registries: [docker.io, registry.k8s.io]',
    '      endpoint: https://10.100.100.100:5000',
    '      ca: ./certs/ca.crt',
    '    - registries: [docker.io]',
    '      endpoint: http://192.168.1.9:5000',
    '      skipVerify: true',
    'cluster:',
    '  bootstrap: {config: ./bootstrap.yaml}',
    o.extra ?? '',
  ].join('\n');
}

/** A temp folder with the spec, its files, snapd/core20/k8s fixture snaps and a key pair keys/site.{key,pub}. */
export async function site(o: SiteOptions = {}): Promise<string> {
  const dir = await testdir({ 'airgap.yaml': siteSpec(o), 'certs/ca.crt': TEST_CA, 'bootstrap.yaml': 'cluster-config:\n  network: {enabled: true}\n' });
  const snapDir = path.join(dir, o.snapsDir === false ? 'store' : 'downloads');
  await makeSnap({ dir: snapDir, name: 'snapd', revision: 10, type: 'snapd' });
  await makeSnap({ dir: snapDir, name: 'core20', revision: 20, type: 'base' });
  await makeSnap({ dir: snapDir, name: 'k8s', revision: 30, base: 'core20', confinement: 'classic' });
  const k = await cli('bundler', ['keygen', '--out', 'keys/site'], { cwd: dir });
  expect(k.exitCode).toBe(0);
  return dir;
}
