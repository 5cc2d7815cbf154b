import path from 'node:path';
import { isAirgapError, loadSpec, specImageRefs } from '@airgap/core';
import { defaultCacheDir } from '../cache-dir.ts';
import { imagesStage } from '../images-stage.ts';
import { planBundle, type PullImages } from '../plan-bundle.ts';

export interface ImagesOptions {
  spec: string;
  cacheDir?: string;
  /** `--helm PATH`. */
  helm?: string;
  /** Resolves one image's digest (default: the registry, no blob downloaded). */
  pullImages?: PullImages;
}

/** One image of the bundle, where it comes from, and whether its registry has it. */
export interface ImageRow {
  ref: string;
  /** `images.refs`, `k8s snap (images.txt)`, `chart web (web/templates/deployment.yaml: Deployment/web containers[0] (web))`, `manifest app.yaml (…)`. */
  from: string[];
  /** The digest the registry gives it; absent with `error`. */
  digest?: string;
  error?: string;
}

export interface ImagesReport {
  images: ImageRow[];
  /** images.refs entries no chart or manifest uses (fine for an image pulled by hand, or a k8s feature's). */
  unused: string[];
  warnings: string[];
  /** The helm that rendered the charts: `PATH (/usr/bin/helm)`. */
  helm?: string;
}

/** `bundler images airgap.yaml`: every image the bundle would carry, with where it came from, each resolved on its own. */
export async function imagesReport(o: ImagesOptions): Promise<ImagesReport> {
  const loaded = await loadSpec(o.spec);
  const cacheDir = path.resolve(o.cacheDir ?? defaultCacheDir());
  const resolveOne = o.pullImages ?? imagesStage({ resolveOnly: true });
  const rows = new Map<string, ImageRow>();
  const plan = await planBundle({
    loaded,
    frozen: false,
    cacheDir,
    createdAt: 0,
    signer: '',
    writesBundle: false,
    ...(o.helm ? { helm: o.helm } : {}),
    // Each image on its own: one that does not resolve is reported, the others still are.
    pullImages: async (refs, p) => {
      for (const ref of refs) {
        const row: ImageRow = { ref, from: [] };
        rows.set(ref, row);
        try {
          const r = await resolveOne([ref], p);
          const digest = r.lock.find((l) => l.ref === ref)?.digest;
          if (digest) row.digest = digest;
        } catch (err) {
          if (!isAirgapError(err)) throw err;
          row.error = `${err.code}: ${err.message.split('\n')[0] ?? ''}`;
        }
      }
      return { images: [], lock: [], sources: [], hosts: [] };
    },
  });
  const listed = new Set(specImageRefs(loaded.spec));
  const used = new Set(plan.workloads.images.map((i) => i.ref));
  for (const row of rows.values()) {
    if (listed.has(row.ref)) row.from.push('images.refs');
    row.from.push(...(plan.workloads.images.find((i) => i.ref === row.ref)?.from ?? []));
    if (row.from.length === 0) row.from.push('k8s snap (images.txt)');
  }
  return {
    images: [...rows.values()].sort((a, b) => a.ref.localeCompare(b.ref)),
    unused: loaded.spec.workloads ? [...listed].filter((r) => !used.has(r)).sort() : [],
    warnings: plan.workloads.warnings,
    ...(plan.workloads.helm ? { helm: `${plan.workloads.helm.from} (${plan.workloads.helm.path})` } : {}),
  };
}

export function formatImagesReport(r: ImagesReport): string {
  const lines: string[] = [];
  for (const i of r.images) {
    lines.push(`${i.ref}  ${i.digest ?? `NOT RESOLVABLE (${i.error ?? 'no digest'})`}`);
    for (const f of i.from) lines.push(`  from ${f}`);
  }
  if (r.helm) lines.push(`charts rendered with helm from ${r.helm}`);
  for (const u of r.unused) lines.push(`note: ${u} is in images.refs but no chart or manifest uses it`);
  for (const w of r.warnings) lines.push(`warning: ${w}`);
  return lines.join('\n');
}
