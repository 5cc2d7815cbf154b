import { createReadStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { AirgapError } from '@airgap/core';
import tar from 'tar-stream';
import { parse } from 'yaml';

/** Chart.yaml is a few KiB; a bigger one is no chart. */
const MAX_CHART_YAML = 1024 * 1024;

export interface ChartArchive {
  /** Chart.yaml's name and version. */
  name: string;
  version: string;
  /** Chart.yaml's `dependencies` (apiVersion v2) by name (or alias). */
  dependencies: { name: string; version?: string }[];
  /** What the archive's charts/ folder holds: `NAME-VERSION.tgz` files and unpacked `NAME/` folders. */
  packaged: string[];
}

/** Reads Chart.yaml and the charts/ listing of a chart .tgz (`helm package` output), streaming. */
export async function readChartArchive(file: string, what: string): Promise<ChartArchive> {
  let chartYaml: string | undefined;
  const packaged = new Set<string>();
  const extract = tar.extract();
  extract.on('entry', (header, stream, next) => {
    // `<chart>/Chart.yaml`, `<chart>/charts/<dep>-1.0.0.tgz`, `<chart>/charts/<dep>/Chart.yaml`.
    const parts = header.name.split('/').filter(Boolean);
    if (parts.length === 2 && parts[1] === 'Chart.yaml' && header.size !== undefined && header.size <= MAX_CHART_YAML) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: unknown) => chunks.push(c as Buffer));
      stream.on('end', () => {
        chartYaml = Buffer.concat(chunks).toString('utf8');
        next();
      });
      return;
    }
    if (parts.length >= 3 && parts[1] === 'charts') packaged.add(parts.length === 3 ? parts[2]! : `${parts[2]!}/`);
    stream.on('end', () => next());
    stream.resume();
  });
  try {
    await pipeline(createReadStream(file), createGunzip(), extract);
  } catch (err) {
    throw new AirgapError('CHART_INVALID', `${what}: ${file} is not a chart archive (.tgz): ${(err as Error).message}`, {
      hint: 'the chart must be what `helm package` writes: a gzipped tar with CHART/Chart.yaml',
      cause: err,
    });
  }
  if (chartYaml === undefined) throw new AirgapError('CHART_INVALID', `${what}: ${file} has no Chart.yaml`, { hint: 'is this a Helm chart?' });
  const y = parse(chartYaml, { maxAliasCount: 10 }) as Record<string, unknown> | null;
  if (!y || typeof y.name !== 'string' || typeof y.version !== 'string')
    throw new AirgapError('CHART_INVALID', `${what}: Chart.yaml in ${file} has no name or version`, { hint: 'is this a Helm chart?' });
  const deps = Array.isArray(y.dependencies) ? (y.dependencies as unknown[]) : [];
  return {
    name: y.name,
    version: y.version,
    dependencies: deps.flatMap((d) => {
      const o = d as { name?: unknown; version?: unknown };
      return typeof o.name === 'string' ? [{ name: o.name, ...(typeof o.version === 'string' ? { version: o.version } : {}) }] : [];
    }),
    packaged: [...packaged].sort(),
  };
}

/**
 * Dependencies Chart.yaml names that charts/ does not hold (helm refuses to render or install
 * those: helm v3 pkg/action/install.go CheckDependencies, "found in Chart.yaml, but missing in charts/ directory").
 */
export function missingDependencies(a: ChartArchive): string[] {
  return a.dependencies
    .filter((d) => !a.packaged.some((p) => p === `${d.name}/` || (p.startsWith(`${d.name}-`) && /^\d/.test(p.slice(d.name.length + 1)) && p.endsWith('.tgz'))))
    .map((d) => (d.version ? `${d.name} ${d.version}` : d.name));
}
