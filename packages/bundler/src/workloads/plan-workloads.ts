import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import fg from 'fast-glob';
import {
  AirgapError,
  chartSource,
  type BundleChart,
  type BundleSource,
  type BundleWorkloads,
  type ChartSpec,
  type LoadedSpec,
  type Lock,
  type LockedChart,
} from '@airgap/core';
import { openBlobCache } from '../oci/blob-cache.ts';
import { missingDependencies, readChartArchive } from './chart-archive.ts';
import { findHelm, helmNotFound, helmTemplate, type FoundHelm } from './find-helm.ts';
import { normalizeImage } from './normalize-image.ts';
import { podImages, type FoundImage } from './pod-images.ts';
import { pullChart } from './pull-chart.ts';

/** An image the workloads use, with every place that names it. */
export interface WorkloadImage {
  ref: string;
  from: string[];
}

export interface WorkloadsPlan {
  workloads?: BundleWorkloads;
  sources: BundleSource[];
  charts: LockedChart[];
  images: WorkloadImage[];
  /** Images that could not be carried (refs built from values, left empty), and charts carried unchecked. */
  warnings: string[];
  hosts: string[];
  /** Which helm rendered the charts, when one did. */
  helm?: FoundHelm;
}

export interface PlanWorkloadsOptions {
  loaded: LoadedSpec;
  lock?: Lock;
  frozen: boolean;
  cacheDir: string;
  /** The bundle's k8s release (`1.32`): charts are rendered for `<release>.0`. */
  release: string;
  /** `--helm PATH`. */
  helm?: string;
  /** The k8s snap the bundle carries (its bin/helm, when it is for this machine). */
  k8sSnap?: string;
}

/** Pull and check every chart, read every manifest, and find the images both use. */
export async function planWorkloads(o: PlanWorkloadsOptions): Promise<WorkloadsPlan> {
  const w = o.loaded.spec.workloads;
  const out: WorkloadsPlan = { sources: [], charts: [], images: [], warnings: [], hosts: [] };
  if (!w || (w.charts.length === 0 && w.manifests.length === 0)) return out;
  const images = new Map<string, Set<string>>();
  const add = (found: FoundImage[], origin: (f: FoundImage) => string) => {
    for (const f of found) {
      const ref = normalizeImage(f.written);
      if (!ref) {
        out.warnings.push(`${origin(f)}: image ${JSON.stringify(f.written)} is no reference the bundle can carry (built from values that are not set?)`);
        continue;
      }
      let set = images.get(ref);
      if (!set) images.set(ref, (set = new Set()));
      set.add(origin(f));
    }
  };

  const charts: BundleChart[] = [];
  if (w.charts.length > 0) {
    const cache = await openBlobCache(o.cacheDir);
    let helm: FoundHelm | undefined | null = null;
    for (const c of w.charts) {
      const locked = o.lock?.charts?.find((l) => l.name === c.name && l.source === chartSource(c) && l.version === c.version);
      if (o.frozen && !locked)
        throw new AirgapError('LOCK_STALE', `--frozen: chart ${c.name} (${chartSource(c)} ${c.version}) is not in the lock file`, {
          hint: 'run `bundler lock airgap.yaml` and commit airgap.lock.yaml',
        });
      const pulled = await pullChart({
        chart: c,
        cache,
        ...(o.loaded.spec.sources?.registries ? { registries: o.loaded.spec.sources.registries } : {}),
        specDir: o.loaded.dir,
        ...(locked ? { locked: locked.digest } : {}),
        frozen: o.frozen,
      });
      out.hosts.push(...pulled.hosts);
      const archive = await readChartArchive(pulled.file, `chart ${c.name}`);
      const missing = missingDependencies(archive);
      if (missing.length > 0)
        throw new AirgapError(
          'CHART_INVALID',
          `chart ${c.name} (${chartSource(c)} ${c.version}): Chart.yaml depends on ${missing.join(', ')}, not packaged in its charts/`,
          {
            hint: 'an air-gapped node cannot fetch dependencies: run `helm dependency build` before `helm package`, and publish that .tgz',
          },
        );
      out.charts.push({ name: c.name, source: chartSource(c), version: c.version, digest: pulled.digest });
      const valuesFiles = c.values.map((v) => path.resolve(o.loaded.dir, v));
      const entry = `workloads/charts/${c.name}-${c.version.replace(/[^A-Za-z0-9_.+-]/g, '_')}.tgz`;
      out.sources.push({ path: entry, file: pulled.file, sha256: pulled.digest.slice('sha256:'.length), size: pulled.size });
      const valueEntries = valuesFiles.map((_, i) => `workloads/values/${c.name}/${i}.yaml`);
      const valuesHash = createHash('sha256');
      for (const [i, file] of valuesFiles.entries()) {
        const data = await readFile(file);
        valuesHash.update(`${data.length}\n`).update(data);
        out.sources.push({ path: valueEntries[i]!, data });
      }
      charts.push({
        name: c.name,
        version: c.version,
        digest: pulled.digest,
        path: entry,
        values: valueEntries,
        valuesDigest: `sha256:${valuesHash.digest('hex')}`,
        namespace: c.namespace,
        createNamespace: c.createNamespace,
      });

      if (helm === null) helm = await findHelm({ ...(o.helm ? { flag: o.helm } : {}), ...(o.k8sSnap ? { k8sSnap: o.k8sSnap } : {}), cacheDir: o.cacheDir });
      const listed = (c.images ?? []).map((ref) => ({ written: ref, where: 'workloads.charts[].images' }));
      add(listed, () => `chart ${c.name} (listed in the spec)`);
      if (helm) {
        out.helm = helm;
        const rendered = await renderChart(helm, c, pulled.file, valuesFiles, o.release);
        add(rendered, (f) => `chart ${c.name} (${f.source ?? c.name}: ${f.where})`);
      } else if (listed.length > 0) {
        out.warnings.push(
          `chart ${c.name}: no helm to render it; carrying the ${listed.length} images workloads.charts[].images lists, unchecked against the chart`,
        );
      } else {
        throw helmNotFound(c.name);
      }
    }
  }

  const manifests: string[] = [];
  let n = 0;
  for (const pattern of w.manifests) {
    const files = (await fg(pattern, { cwd: o.loaded.dir, onlyFiles: true, dot: false, absolute: true })).sort();
    if (files.length === 0)
      throw new AirgapError('SPEC_INVALID', `workloads.manifests: ${pattern} matches no file (paths are relative to the spec's folder)`, {
        hint: 'fix the path or glob, or remove the entry',
      });
    for (const file of files) {
      const shown = path.relative(o.loaded.dir, file);
      const data = await readFile(file);
      let found: FoundImage[];
      try {
        found = podImages(data.toString('utf8'));
      } catch (err) {
        throw new AirgapError('SPEC_INVALID', `workloads.manifests: ${shown} is not Kubernetes YAML: ${(err as Error).message}`, {
          hint: 'fix the file',
          cause: err,
        });
      }
      add(found, (f) => `manifest ${shown} (${f.where})`);
      const entry = `workloads/manifests/${String(n++).padStart(3, '0')}-${path
        .basename(file)
        .replace(/[^A-Za-z0-9_.-]/g, '_')
        .slice(0, 60)}`;
      out.sources.push({ path: entry, data });
      manifests.push(entry);
    }
  }

  out.images = [...images].map(([ref, from]) => ({ ref, from: [...from].sort() })).sort((a, b) => a.ref.localeCompare(b.ref));
  out.hosts = [...new Set(out.hosts)].sort();
  out.workloads = { charts, manifests };
  return out;
}

async function renderChart(helm: FoundHelm, c: ChartSpec, chartFile: string, values: string[], release: string): Promise<FoundImage[]> {
  const text = await helmTemplate({ helm, release: c.name, chartFile, values, kubeVersion: `${release}.0`, namespace: c.namespace });
  try {
    return podImages(text);
  } catch (err) {
    throw new AirgapError('CHART_INVALID', `chart ${c.name}: helm template printed YAML that does not parse: ${(err as Error).message}`, {
      hint: 'check the chart',
      cause: err,
    });
  }
}
