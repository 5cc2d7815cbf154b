import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { AirgapError, authFiles, chartSource, createRegistryClient, lookupCredentials, type ChartSpec, type RegistrySource } from '@airgap/core';
import { EnvHttpProxyAgent, request, type Dispatcher } from 'undici';
import { parse } from 'yaml';
import type { BlobCache } from '../oci/blob-cache.ts';
import { fetchManifest } from '../oci/fetch-manifest.ts';
import { pullBlob } from '../oci/pull-blob.ts';
import { endpointFor } from '../oci/registry-endpoints.ts';

// Helm's OCI media types (helm v3 pkg/registry/constants.go; HIP-0006).
export const HELM_CONFIG = 'application/vnd.cncf.helm.config.v1+json';
export const HELM_CHART_LAYER = 'application/vnd.cncf.helm.chart.content.v1.tar+gzip';
/** What charts pushed by helm before 3.7 (and some tools since) name the layer. */
const LEGACY_CHART_LAYER = 'application/tar+gzip';
/** A chart repository's index.yaml can be large (Bitnami's is ~20 MiB); more is no index. */
const MAX_INDEX_BYTES = 64 * 1024 * 1024;

export interface PulledChart {
  /** The .tgz in the cache. */
  file: string;
  digest: string;
  size: number;
  hosts: string[];
}

export interface PullChartOptions {
  chart: ChartSpec;
  cache: BlobCache;
  registries?: Readonly<Record<string, RegistrySource>>;
  specDir: string;
  /** The lock's digest; with `frozen` the chart must have exactly it (and a cached one is used as it is). */
  locked?: string;
  frozen: boolean;
}

/** One chart into the blob cache, by the digest its source publishes, checked as it is written. */
export async function pullChart(o: PullChartOptions): Promise<PulledChart> {
  if (o.frozen && o.locked) {
    const cached = o.cache.pathOf(o.locked);
    const st = await stat(cached).catch(() => undefined);
    if (st?.isFile()) return { file: cached, digest: o.locked, size: st.size, hosts: [] };
  }
  const pulled = o.chart.repo ? await pullFromRepo(o) : await pullFromOci(o);
  if (o.frozen && o.locked && pulled.digest !== o.locked)
    throw new AirgapError(
      'LOCK_STALE',
      `--frozen: chart ${o.chart.name} (${chartSource(o.chart)} ${o.chart.version}) is now ${pulled.digest}, the lock has ${o.locked}`,
      {
        hint: 'the chart was re-published under the same version: run `bundler lock airgap.yaml`, review and commit',
      },
    );
  return pulled;
}

async function pullFromOci(o: PullChartOptions): Promise<PulledChart> {
  const ref = o.chart.chart.slice('oci://'.length);
  const slash = ref.indexOf('/');
  const registry = ref.slice(0, slash);
  const repository = ref.slice(slash + 1);
  // OCI tags cannot hold `+`: helm pushes 1.2.3+build as 1.2.3_build (pkg/registry/client.go).
  const tag = o.chart.version.replace(/\+/g, '_');
  const what = `chart ${o.chart.name} (${o.chart.chart}:${tag})`;
  const endpoint = await endpointFor(registry, o.registries, o.specDir);
  const hosts = new Set<string>();
  const files = authFiles();
  const found = await lookupCredentials(new URL(endpoint.url).host, files);
  const client = createRegistryClient({
    endpoint,
    ...(found.credentials ? { credentials: found.credentials } : {}),
    credentialsTried: found.tried,
    onHost: (h) => hosts.add(h),
  });
  try {
    const m = await fetchManifest({ client, cache: o.cache, repository, reference: tag, image: what });
    const doc = JSON.parse(m.bytes.toString('utf8')) as { config?: { mediaType?: string }; layers?: { mediaType?: string; digest: string; size: number }[] };
    if (doc.config?.mediaType !== HELM_CONFIG)
      throw new AirgapError('CHART_INVALID', `${what} is not a Helm chart: its config is ${doc.config?.mediaType ?? 'missing'}, not ${HELM_CONFIG}`, {
        hint: 'point workloads.charts[].chart at a chart pushed with `helm push`, not an image',
      });
    const layer = doc.layers?.find((l) => l.mediaType === HELM_CHART_LAYER) ?? doc.layers?.find((l) => l.mediaType === LEGACY_CHART_LAYER);
    if (!layer) throw new AirgapError('CHART_INVALID', `${what} has no ${HELM_CHART_LAYER} layer`, { hint: 'push the chart again with `helm push`' });
    await pullBlob({ client, cache: o.cache, repository, descriptor: { mediaType: HELM_CHART_LAYER, digest: layer.digest, size: layer.size }, image: what });
    return { file: o.cache.pathOf(layer.digest), digest: layer.digest, size: layer.size, hosts: [...hosts] };
  } finally {
    await client.close();
  }
}

interface IndexEntry {
  version?: string;
  digest?: string;
  urls?: string[];
}

async function pullFromRepo(o: PullChartOptions): Promise<PulledChart> {
  const repo = o.chart.repo!.replace(/\/$/, '');
  const what = `chart ${o.chart.name} (${o.chart.chart} ${o.chart.version} from ${repo})`;
  const indexUrl = `${repo}/index.yaml`;
  const index = parse((await fetchBytes(indexUrl, what, MAX_INDEX_BYTES)).toString('utf8'), { maxAliasCount: 1000 }) as {
    entries?: Record<string, IndexEntry[]>;
  } | null;
  const entry = index?.entries?.[o.chart.chart]?.find((e) => e.version === o.chart.version);
  if (!entry) {
    const have = (index?.entries?.[o.chart.chart] ?? []).map((e) => e.version).slice(0, 10);
    throw new AirgapError('CHART_INVALID', `${what}: ${indexUrl} lists no ${o.chart.chart} ${o.chart.version}`, {
      hint: have.length > 0 ? `it has ${have.join(', ')}: fix workloads.charts[].version` : `it has no chart ${o.chart.chart}: fix workloads.charts[].chart`,
    });
  }
  // helm repo index writes the sha256 of the .tgz, hex (pkg/repo/index.go, provenance.DigestFile).
  if (!entry.digest || !/^[a-f0-9]{64}$/.test(entry.digest))
    throw new AirgapError('CHART_INVALID', `${what}: ${indexUrl} gives no sha256 digest for it`, {
      hint: 'regenerate the index with `helm repo index`, which records each chart’s digest',
    });
  const digest = `sha256:${entry.digest}`;
  const url = entry.urls?.[0];
  if (!url) throw new AirgapError('CHART_INVALID', `${what}: ${indexUrl} gives no URL for it`, { hint: 'regenerate the index with `helm repo index --url`' });
  const abs = new URL(url, `${repo}/`).toString();
  const host = new URL(abs).host;
  const temp = o.cache.tempFor(digest);
  const hash = createHash('sha256');
  let size = 0;
  try {
    const res = await request(abs, { dispatcher: httpAgent() });
    if (res.statusCode !== 200) {
      await res.body.dump();
      throw new AirgapError('CHART_INVALID', `${what}: GET ${abs} answered HTTP ${res.statusCode}`, { hint: 'is the chart repository complete?' });
    }
    const count = new Transform({
      transform(chunk: Buffer, _enc, done) {
        hash.update(chunk);
        size += chunk.length;
        done(null, chunk);
      },
    });
    await pipeline(res.body, count, createWriteStream(temp));
    const got = `sha256:${hash.digest('hex')}`;
    if (got !== digest)
      throw new AirgapError('DIGEST_MISMATCH', `${what}: ${abs} has sha256 ${got.slice(7)}, ${indexUrl} says ${entry.digest}`, {
        hint: 'the repository serves another file than its index describes (a re-published chart, or a tampered file): nothing was bundled',
      });
    await o.cache.commit(temp, digest);
  } catch (err) {
    await o.cache.discard(temp);
    if (err instanceof AirgapError) throw err;
    throw new AirgapError('REGISTRY_FAILED', `${what}: cannot download ${abs}: ${(err as Error).message}`, {
      hint: 'is the chart repository reachable?',
      cause: err,
    });
  }
  return { file: o.cache.pathOf(digest), digest, size, hosts: [new URL(repo).host, host] };
}

async function fetchBytes(url: string, what: string, max: number): Promise<Buffer> {
  try {
    const res = await request(url, { dispatcher: httpAgent() });
    if (res.statusCode !== 200) {
      await res.body.dump();
      throw new AirgapError('CHART_INVALID', `${what}: GET ${url} answered HTTP ${res.statusCode}`, {
        hint: 'is workloads.charts[].repo the folder of the index.yaml?',
      });
    }
    const chunks: Buffer[] = [];
    let n = 0;
    for await (const c of res.body) {
      n += (c as Buffer).length;
      if (n > max) throw new AirgapError('CHART_INVALID', `${what}: ${url} is over ${max} bytes`, { hint: 'is this a chart repository index?' });
      chunks.push(c as Buffer);
    }
    return Buffer.concat(chunks);
  } catch (err) {
    if (err instanceof AirgapError) throw err;
    throw new AirgapError('REGISTRY_FAILED', `${what}: cannot read ${url}: ${(err as Error).message}`, {
      hint: 'is the chart repository reachable?',
      cause: err,
    });
  }
}

/** sha256 of a local file, `sha256:` prefixed (values files are small). */
export async function fileDigest(file: string): Promise<string> {
  return `sha256:${createHash('sha256')
    .update(await readFile(file))
    .digest('hex')}`;
}

let agent: Dispatcher | undefined;
/** The proxy of HTTPS_PROXY/HTTP_PROXY/NO_PROXY when set, as the registry client does. */
function httpAgent(): Dispatcher {
  agent ??= new EnvHttpProxyAgent();
  return agent;
}
