import { createHash } from 'node:crypto';
import { copyFile, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BundleManifest, Lock } from '@airgap/core';
import { cli } from '../support/cli.ts';
import { makeImage } from '../support/oci-images.ts';
import { pushLayout, startRegistry, type TestRegistry } from '../support/registry.ts';
import { site } from '../support/site-fixture.ts';
import { makeSnap } from '../support/snap-fixture.ts';
import { startStaticServer, type StaticServer } from '../support/static-server.ts';
import { testdir } from '../support/tmpdir.ts';
import { helmEnv, realHelm, writeChart } from './helm-fixture.ts';

const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

describe('workloads: charts from an OCI registry and an HTTP chart repository, rendered by a real helm', () => {
  let reg: TestRegistry;
  let repo: StaticServer;
  let helm: string;
  let work: string;
  let env: Record<string, string>;
  let chartTgz: Buffer;
  const digests: Record<string, string> = {};
  const img = (name: string) => `${reg.host}/app/${name}:1`;

  beforeAll(async () => {
    const h = await realHelm();
    helm = h.helm;
    work = h.dir;
    env = { ...helmEnv(path.join(work, 'home')), PATH: '/usr/bin:/bin' };
    reg = await startRegistry();
    const layout = path.join(work, 'layout');
    for (const name of ['web', 'sidecar', 'init', 'cron', 'main']) {
      const made = await makeImage({ layoutDir: layout, tag: name, platforms: ['linux/amd64'], seeded: true });
      digests[name] = made.digest;
      await pushLayout(reg, layout, name, `app/${name}:1`);
    }
    // The chart: its web image from its own values, the sidecar only from the spec's values file, a packaged dependency.
    const src = path.join(work, 'src');
    await writeChart(src, { name: 'web', version: '1.0.0', webImage: img('web'), dependencies: ['lib'], packaged: ['lib'] });
    await execa(helm, ['package', path.join(src, 'web'), '-d', path.join(work, 'pkg')], { env });
    chartTgz = await readFile(path.join(work, 'pkg', 'web-1.0.0.tgz'));
    // helm push: Helm's own OCI media types, into the real docker-registry.
    await execa(helm, ['push', path.join(work, 'pkg', 'web-1.0.0.tgz'), `oci://${reg.host}/charts`, '--plain-http'], { env });
    // A chart repository: index.yaml by helm repo index, served over HTTP.
    const repoDir = path.join(work, 'repo');
    await mkdir(repoDir, { recursive: true });
    await copyFile(path.join(work, 'pkg', 'web-1.0.0.tgz'), path.join(repoDir, 'web-1.0.0.tgz'));
    repo = await startStaticServer(repoDir);
    await execa(helm, ['repo', 'index', repoDir, '--url', repo.url], { env });
  }, 120_000);
  afterAll(async () => {
    await reg?.stop();
    await repo?.stop();
    await rm(work, { recursive: true, force: true });
  });

  const specFor = (chart: string) =>
    [
      'apiVersion: airgap/v1alpha1',
      'kind: Bundle',
      'metadata: {name: wl-site}',
      'k8s: {channel: 1.32-classic/stable}',
      'sources:',
      '  snapsDir: ./downloads',
      `  registries: {"${reg.host}": {endpoint: "${reg.url}", plainHttp: true}}`,
      'images: {k8sFeatures: false}',
      'cluster: {bootstrap: {config: ./bootstrap.yaml}}',
      'workloads:',
      '  charts:',
      chart,
      '  manifests: [manifests/*.yaml]',
      '',
    ].join('\n');
  const ociChart = () =>
    `    - {name: web, chart: "oci://${reg.host}/charts/web", version: 1.0.0, values: [values/web.yaml], namespace: web, createNamespace: true}`;

  async function siteWith(chart: string): Promise<string> {
    const dir = await site();
    await writeFile(path.join(dir, 'airgap.yaml'), specFor(chart));
    await mkdir(path.join(dir, 'values'));
    await writeFile(path.join(dir, 'values', 'web.yaml'), `sidecar:\n  image: ${img('sidecar')}\n`);
    await mkdir(path.join(dir, 'manifests'));
    await writeFile(
      path.join(dir, 'manifests', 'app.yaml'),
      [
        'apiVersion: apps/v1',
        'kind: Deployment',
        'metadata: {name: main}',
        'spec:',
        '  selector: {matchLabels: {app: main}}',
        '  template:',
        '    metadata: {labels: {app: main}}',
        '    spec:',
        `      initContainers: [{name: init, image: "${img('init')}"}]`,
        `      containers: [{name: main, image: "${img('main')}"}]`,
        '---',
        'apiVersion: batch/v1',
        'kind: CronJob',
        'metadata: {name: backup}',
        'spec:',
        '  schedule: "0 1 * * *"',
        '  jobTemplate:',
        '    spec:',
        '      template:',
        '        spec:',
        '          restartPolicy: OnFailure',
        `          containers: [{name: backup, image: "${img('cron')}"}]`,
        '---',
        'apiVersion: v1',
        'kind: ConfigMap',
        'metadata: {name: settings}',
        'data: {a: b}',
        '',
      ].join('\n'),
    );
    return dir;
  }
  const build = (dir: string, extra: string[] = [], e: Record<string, string> = env) =>
    cli('bundler', ['build', 'airgap.yaml', '-o', 'a.tar', '--key', 'keys/site.key', '--no-applier', '--cache-dir', 'cache', ...extra], {
      cwd: dir,
      env: e,
      timeout: 300_000,
    });
  const manifestOf = async (dir: string) => JSON.parse((await execa('tar', ['-xOf', 'a.tar', 'airgap/manifest.json'], { cwd: dir })).stdout) as BundleManifest;
  const lockOf = async (dir: string) => parse(await readFile(path.join(dir, 'airgap.lock.yaml'), 'utf8')) as Lock;

  it('pulls the OCI chart, finds the images of the chart (one only through values) and of the manifests, carries them all', async () => {
    const dir = await siteWith(ociChart());
    const r = await build(dir, ['--helm', helm]);
    expect(r.stderr).not.toContain('warning');
    expect(r.exitCode).toBe(0);
    const m = await manifestOf(dir);
    expect(m.workloads).toEqual({
      charts: [
        {
          name: 'web',
          version: '1.0.0',
          digest: sha(chartTgz),
          path: 'workloads/charts/web-1.0.0.tgz',
          values: ['workloads/values/web/0.yaml'],
          valuesDigest: expect.stringMatching(/^sha256:[a-f0-9]{64}$/) as string,
          namespace: 'web',
          createNamespace: true,
        },
      ],
      manifests: ['workloads/manifests/000-app.yaml'],
    });
    const want = ['cron', 'init', 'main', 'sidecar', 'web'].map((n) => ({ ref: img(n), digest: digests[n] }));
    // The bundle names each image by its tag (and by digest, as every bundle does).
    expect(m.images.filter((i) => !i.ref.includes('@')).map((i) => ({ ref: i.ref, digest: i.digest }))).toEqual(want);
    const lock = await lockOf(dir);
    expect(lock.images).toEqual(want);
    expect(lock.charts).toEqual([{ name: 'web', source: `oci://${reg.host}/charts/web`, version: '1.0.0', digest: sha(chartTgz) }]);
    // The chart in the bundle is the very .tgz helm packaged.
    const inTar = await execa('tar', ['-xOf', 'a.tar', 'workloads/charts/web-1.0.0.tgz'], { cwd: dir, encoding: 'buffer' });
    expect(sha(Buffer.from(inTar.stdout))).toBe(sha(chartTgz));
    // --frozen: the same bundle from the lock.
    const again = await build(dir, ['--helm', helm, '--frozen']);
    expect(again.exitCode).toBe(0);
    expect(again.stdout).toContain('unchanged');
  }, 300_000);

  it('bundler images names where each image comes from: the chart template, the manifest and its object', async () => {
    const dir = await siteWith(ociChart());
    await writeFile(
      path.join(dir, 'airgap.yaml'),
      (await readFile(path.join(dir, 'airgap.yaml'), 'utf8')).replace(
        'images: {k8sFeatures: false}',
        `images: {k8sFeatures: false, refs: ["${reg.host}/app/unused:1"]}`,
      ),
    );
    const r = await cli('bundler', ['images', 'airgap.yaml', '--helm', helm, '--cache-dir', 'cache'], { cwd: dir, env });
    expect(r.exitCode).toBe(0);
    const text = r.stdout;
    expect(text).toContain(
      `${img('sidecar')}  ${digests.sidecar}\n  from chart web (web/templates/deployment.yaml: Deployment/web-web containers[1] (sidecar))`,
    );
    expect(text).toContain(`${img('web')}  ${digests.web}\n  from chart web (web/templates/deployment.yaml: Deployment/web-web containers[0] (web))`);
    expect(text).toContain(`${img('init')}  ${digests.init}\n  from manifest manifests/app.yaml (Deployment/main initContainers[0] (init))`);
    expect(text).toContain(`${img('cron')}  ${digests.cron}\n  from manifest manifests/app.yaml (CronJob/backup containers[0] (backup))`);
    expect(text).toMatch(new RegExp(`${reg.host}/app/unused:1  NOT RESOLVABLE \\(IMAGE_NOT_FOUND`));
    expect(text).toContain(`note: ${reg.host}/app/unused:1 is in images.refs but no chart or manifest uses it`);
    expect(text).toContain(`charts rendered with helm from --helm (${helm})`);
  }, 300_000);

  it('pulls the same chart from an HTTP chart repository (index.yaml digest checked), with helm found on PATH', async () => {
    const dir = await siteWith(`    - {name: web, repo: "${repo.url}", chart: web, version: 1.0.0, values: [values/web.yaml], namespace: web}`);
    const r = await build(dir, [], { ...env, PATH: `${path.dirname(helm)}:/usr/bin:/bin` });
    expect(r.stderr).not.toContain('warning');
    expect(r.exitCode).toBe(0);
    const m = await manifestOf(dir);
    expect(m.workloads?.charts[0]).toMatchObject({ digest: sha(chartTgz), createNamespace: false });
    expect(m.images.map((i) => i.ref)).toContain(img('sidecar'));
    expect((await lockOf(dir)).charts).toEqual([{ name: 'web', source: `${repo.url}#web`, version: '1.0.0', digest: sha(chartTgz) }]);
    expect(repo.requests).toContain('/web-1.0.0.tgz');
  }, 300_000);

  it('refuses a chart repository whose .tgz does not match its index digest: DIGEST_MISMATCH, no bundle', async () => {
    const bad = path.join(work, 'repo-bad');
    await mkdir(bad, { recursive: true });
    const server = await startStaticServer(bad);
    try {
      await writeFile(path.join(bad, 'web-1.0.0.tgz'), chartTgz);
      await execa(helm, ['repo', 'index', bad, '--url', server.url], { env });
      // The file changes after the index was made: a re-published or tampered chart.
      const other = path.join(work, 'src-other');
      await writeChart(other, { name: 'web', version: '1.0.0', webImage: img('main') });
      await execa(helm, ['package', path.join(other, 'web'), '-d', bad], { env });
      const dir = await siteWith(`    - {name: web, repo: "${server.url}", chart: web, version: 1.0.0}`);
      const r = await build(dir, ['--helm', helm]);
      expect(r.exitCode).not.toBe(0);
      expect(r.stderr).toContain('error[DIGEST_MISMATCH]');
      expect(r.stderr).toContain('chart web (web 1.0.0 from');
      expect((await readdir(dir)).filter((f) => f.startsWith('a.tar'))).toEqual([]);
      expect(await readFile(path.join(dir, 'airgap.lock.yaml')).catch(() => undefined)).toBeUndefined();
    } finally {
      await server.stop();
    }
  }, 300_000);

  it('refuses a chart whose Chart.yaml dependency is not packaged in charts/: CHART_INVALID naming both, no bundle', async () => {
    const src = path.join(work, 'src-nodep');
    await writeChart(src, { name: 'nodep', version: '2.0.0', webImage: img('web'), dependencies: ['postgresql'] });
    // tar, not helm package: helm package would refuse it too; a published chart may still be like this.
    await execa('tar', ['-czf', path.join(work, 'nodep-2.0.0.tgz'), '-C', src, 'nodep']);
    await execa(helm, ['push', path.join(work, 'nodep-2.0.0.tgz'), `oci://${reg.host}/charts`, '--plain-http'], { env });
    const dir = await siteWith(`    - {name: nodep, chart: "oci://${reg.host}/charts/nodep", version: 2.0.0}`);
    const r = await build(dir, ['--helm', helm]);
    expect(r.exitCode).not.toBe(0);
    expect(r.stderr).toContain('error[CHART_INVALID]');
    expect(r.stderr).toContain('chart nodep');
    expect(r.stderr).toContain('depends on postgresql 0.1.0, not packaged in its charts/');
    expect(r.stderr).toContain('helm dependency build');
    expect((await readdir(dir)).filter((f) => f.startsWith('a.tar'))).toEqual([]);
  }, 300_000);

  it("with no helm on PATH and no --helm: the k8s snap's own bin/helm renders the charts (the snap is for this machine)", async () => {
    const dir = await siteWith(ociChart());
    // The k8s snap as the store ships it: architectures [amd64], helm at bin/helm (k8s-snap build-scripts/components/helm/build.sh).
    await makeSnap({
      dir: path.join(dir, 'downloads'),
      name: 'k8s',
      revision: 30,
      base: 'core20',
      confinement: 'classic',
      architectures: ['amd64'],
      files: { 'bin/helm': helm },
      compression: 'none',
    });
    const r = await cli('bundler', ['images', 'airgap.yaml', '--cache-dir', 'cache'], { cwd: dir, env });
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain('charts rendered with helm from the k8s snap k8s_30.snap');
    expect(r.stdout).toContain(`${img('sidecar')}  ${digests.sidecar}\n  from chart web (web/templates/deployment.yaml`);
  }, 300_000);

  it('without helm: HELM_NOT_FOUND naming the chart and the three ways; with the chart images listed the chart is carried', async () => {
    const dir = await siteWith(ociChart());
    const r = await build(dir);
    expect(r.exitCode).not.toBe(0);
    expect(r.stderr).toContain('error[HELM_NOT_FOUND]: chart web: no helm to render it');
    expect(r.stderr).toMatch(/put helm on PATH, or pass --helm \/path\/to\/helm, or build on a machine of the k8s snap’s architecture/);
    expect(r.stderr).toContain('workloads.charts[].images');
    expect((await readdir(dir)).filter((f) => f.startsWith('a.tar'))).toEqual([]);

    const listed = ociChart().replace('}', `, images: ["${img('web')}", "${img('sidecar')}"]}`);
    await writeFile(path.join(dir, 'airgap.yaml'), specFor(listed));
    const ok = await build(dir);
    expect(ok.exitCode).toBe(0);
    expect(ok.stderr).toContain('warning[WORKLOAD_IMAGE]: chart web: no helm to render it; carrying the 2 images workloads.charts[].images lists');
    expect((await manifestOf(dir)).images.map((i) => i.ref).filter((r) => !r.includes('@'))).toEqual(['cron', 'init', 'main', 'sidecar', 'web'].map(img));
  }, 300_000);
});

describe('workloads spec errors point at the file, line and column', () => {
  it('a chart without version, a bad oci reference and a missing values file', async () => {
    const dir = await testdir({
      'airgap.yaml': [
        'apiVersion: airgap/v1alpha1',
        'kind: Bundle',
        'metadata: {name: s}',
        'k8s: {channel: 1.32-classic/stable}',
        'workloads:',
        '  charts:',
        '    - {name: web, chart: "https://x/web"}',
        '',
      ].join('\n'),
    });
    const r = await cli('bundler', ['lock', 'airgap.yaml'], { cwd: dir });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/airgap\.yaml:7:\d+: workloads\.charts\[0\]/);
    expect(r.stderr).toContain('version');
    expect(r.stderr).toContain('oci://REGISTRY/REPO/CHART');
    await writeFile(
      path.join(dir, 'airgap.yaml'),
      'apiVersion: airgap/v1alpha1\nkind: Bundle\nmetadata: {name: s}\nk8s: {channel: 1.32-classic/stable}\nworkloads:\n  charts:\n    - {name: web, chart: "oci://r.example.com/c/web", version: 1.0.0, values: [nope.yaml]}\n  manifests: [missing.yaml]\n',
    );
    const m = await cli('bundler', ['lock', 'airgap.yaml'], { cwd: dir });
    expect(m.stderr).toMatch(/airgap\.yaml:7:\d+: workloads\.charts\[0\]\.values\[0\]: file nope\.yaml not found/);
    expect(m.stderr).toMatch(/airgap\.yaml:8:\d+: workloads\.manifests\[0\]: file missing\.yaml not found/);
  });
});
