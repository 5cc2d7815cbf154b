import { constants } from 'node:fs';
import { access, mkdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { AirgapError, runTool, tempPathFor } from '@airgap/core';
import { parse } from 'yaml';
import { catFromSquashfs } from '../tools/unsquashfs.ts';

/**
 * Where the k8s snap keeps its helm: build-scripts/components/helm/build.sh of canonical/k8s-snap
 * copies it to `${SNAPCRAFT_PART_INSTALL}/bin/helm` (the snap's root), the binary `k8s helm` runs.
 */
export const SNAP_HELM = 'bin/helm';

export interface FoundHelm {
  path: string;
  /** How it was found, for messages: `--helm`, `PATH`, or `the k8s snap k8s_30.snap`. */
  from: string;
}

export interface FindHelmOptions {
  /** `--helm PATH`. */
  flag?: string;
  /** The k8s snap the bundle carries. */
  k8sSnap?: string;
  cacheDir: string;
}

/** A helm to render charts with: `--helm`, else `helm` on PATH, else the k8s snap's own when it is for this machine. */
export async function findHelm(o: FindHelmOptions): Promise<FoundHelm | undefined> {
  if (o.flag) {
    const abs = path.resolve(o.flag);
    if (!(await isExecutable(abs)))
      throw new AirgapError('HELM_NOT_FOUND', `--helm ${o.flag}: no executable there`, {
        hint: 'give the path of a helm binary (helm version prints its version)',
      });
    return { path: abs, from: '--helm' };
  }
  for (const dir of (process.env.PATH ?? '').split(path.delimiter).filter(Boolean)) {
    const candidate = path.join(dir, 'helm');
    if (await isExecutable(candidate)) return { path: candidate, from: 'PATH' };
  }
  if (o.k8sSnap) return fromSnap(o.k8sSnap, o.cacheDir);
  return undefined;
}

/** The snap's architectures (meta/snap.yaml) include this machine's: unsquash its bin/helm once into the cache. */
async function fromSnap(snap: string, cacheDir: string): Promise<FoundHelm | undefined> {
  const meta = parse((await catFromSquashfs(snap, 'meta/snap.yaml')) ?? '', { maxAliasCount: 10 }) as { architectures?: unknown } | null;
  const arches = Array.isArray(meta?.architectures) ? (meta.architectures as unknown[]) : [];
  const here = process.arch === 'x64' ? 'amd64' : process.arch;
  if (!arches.includes(here) && !arches.includes('all')) return undefined;
  const st = await stat(snap);
  const dir = path.join(cacheDir, 'helm', `${path.basename(snap, '.snap')}-${st.size}`);
  const target = path.join(dir, 'helm');
  if (await isExecutable(target)) return { path: target, from: `the k8s snap ${path.basename(snap)}` };
  const temp = tempPathFor(dir);
  await rm(temp, { recursive: true, force: true });
  await mkdir(path.dirname(dir), { recursive: true });
  try {
    await runTool('unsquashfs', ['-no-progress', '-d', temp, snap, SNAP_HELM], { timeout: 300_000 });
    if (!(await isExecutable(path.join(temp, SNAP_HELM)))) return undefined;
    await mkdir(dir, { recursive: true });
    await rename(path.join(temp, SNAP_HELM), target);
  } catch {
    return undefined;
  } finally {
    await rm(temp, { recursive: true, force: true });
  }
  return { path: target, from: `the k8s snap ${path.basename(snap)}` };
}

async function isExecutable(file: string): Promise<boolean> {
  const st = await stat(file).catch(() => undefined);
  if (!st?.isFile()) return false;
  return access(file, constants.X_OK).then(
    () => true,
    () => false,
  );
}

export interface HelmTemplateOptions {
  helm: FoundHelm;
  release: string;
  chartFile: string;
  values: readonly string[];
  /** `1.32.0`: the bundle's k8s release. */
  kubeVersion: string;
  namespace: string;
}

/** `helm template NAME CHART.tgz -f … --kube-version V --namespace NS`: the chart's objects as the node will get them. */
export async function helmTemplate(o: HelmTemplateOptions): Promise<string> {
  const args = ['template', o.release, o.chartFile, ...o.values.flatMap((v) => ['-f', v]), '--kube-version', o.kubeVersion, '--namespace', o.namespace];
  try {
    return (await runTool(o.helm.path, args, { timeout: 300_000 })).stdout;
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr?.trim() ?? String(err);
    throw new AirgapError('CHART_INVALID', `chart ${o.release}: helm template failed: ${stderr.split('\n').slice(-3).join(' / ')}`, {
      hint: `helm from ${o.helm.from} (${o.helm.path}); fix the chart's values files`,
      cause: err,
    });
  }
}

/** HELM_NOT_FOUND for a chart that needs rendering: the three ways to provide helm, and the way around it. */
export function helmNotFound(chart: string): AirgapError {
  return new AirgapError('HELM_NOT_FOUND', `chart ${chart}: no helm to render it and find its images`, {
    hint:
      'put helm on PATH, or pass --helm /path/to/helm, or build on a machine of the k8s snap’s architecture (its bin/helm is used); ' +
      `or list the chart's images by hand in workloads.charts[].images (they are then carried unchecked)`,
  });
}
