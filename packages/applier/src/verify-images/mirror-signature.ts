import {
  AirgapError,
  COSIGN_SIG_ARTIFACT,
  cosignSignatureTag,
  headerValue,
  OCI_INDEX,
  OCI_MANIFEST,
  SIGSTORE_BUNDLE_V03,
  type RegistryClient,
} from '@airgap/core';

/** A signature manifest or payload is small; anything bigger is not one (and is not read into memory). */
const MAX_BYTES = 4 * 1024 * 1024;

export interface MirrorSignature {
  /**
   * The `sha256-<hex>.sig` manifest's layers together with those of the cosign signature
   * referrers, as one `.sig` manifest would list them; undefined when the mirror has neither.
   */
  manifest: unknown;
  /** The `.sig` manifest's digest as the mirror served it. */
  digest?: string;
  /** The Sigstore bundle referrers, each read when the verifier gets to it. */
  sigstoreBundles: { digest: string; read: () => Promise<Buffer> }[];
  /** Where the referrers were listed: `<repository> referrers API` or the fallback tag `<repository>:sha256-<hex>`; undefined when neither. */
  referrersFrom?: string;
  readBlob: (digest: string) => Promise<Buffer>;
}

type Layer = { mediaType?: unknown; digest?: unknown; size?: unknown; annotations?: unknown };

/**
 * What the mirror holds for `digest` in `repository`, the way `applier push` wrote it (as upstream
 * had it): cosign's `sha256-<hex>.sig` tag, and the referrers, by the referrers API where the
 * mirror has one, else by the fallback tag `sha256-<hex>` (distribution-spec v1.1.0, "Unavailable
 * Referrers API"). Referrers of the two signature artifact types are read; others are not signatures.
 */
export async function mirrorSignature(client: RegistryClient, repository: string, digest: string, image: string): Promise<MirrorSignature> {
  const get = (reference: string, accept: string) => getSmall(client, { repository, reference, accept, image });
  const readBlob = async (blob: string) => {
    const r = await client.request({ method: 'GET', path: `/v2/${repository}/blobs/${blob}`, repository, scope: 'pull', followRedirects: true, what: image });
    if (r.status !== 200) {
      await r.body.dump();
      throw new Error(`${client.endpoint.registry} answered HTTP ${r.status} for blob ${blob}`);
    }
    return capped(r.body as AsyncIterable<Buffer>, `${image}: blob ${blob}`);
  };
  const tag = cosignSignatureTag(digest);
  const layers: Layer[] = [];
  const sig = await get(tag, `${OCI_MANIFEST}, application/vnd.docker.distribution.manifest.v2+json`);
  let tagged = false;
  if (sig) {
    const doc = parse(sig.bytes);
    // A `.sig` tag that is not a manifest with layers stays as it is: the verifier names the problem.
    if (!Array.isArray((doc as { layers?: unknown } | null)?.layers)) return { manifest: doc, ...served(sig), sigstoreBundles: [], readBlob };
    layers.push(...layersOf(doc));
    tagged = true;
  }
  const referrers = await listReferrers(client, { repository, digest, image }, get);
  const sigstoreBundles: MirrorSignature['sigstoreBundles'] = [];
  for (const d of referrers.descriptors) {
    if (d.artifactType !== COSIGN_SIG_ARTIFACT && d.artifactType !== SIGSTORE_BUNDLE_V03) continue;
    const m = await get(d.digest, OCI_MANIFEST);
    if (!m) continue; // listed but gone: nothing to verify there
    const own = layersOf(parse(m.bytes));
    if (d.artifactType === COSIGN_SIG_ARTIFACT) layers.push(...own);
    else {
      const layer = own[0];
      if (typeof layer?.digest === 'string') sigstoreBundles.push({ digest: d.digest, read: () => readBlob(layer.digest as string) });
    }
  }
  const any = tagged || layers.length > 0;
  return {
    manifest: any ? { layers } : undefined,
    ...(sig ? served(sig) : {}),
    sigstoreBundles,
    ...(referrers.source ? { referrersFrom: referrers.source } : {}),
    readBlob,
  };
}

/**
 * `GET /v2/<name>/referrers/<digest>`; on 404 (no such API: distribution 2.8) the fallback tag's
 * index. The descriptors carry `artifactType` in both (image-spec descriptor.md).
 */
async function listReferrers(
  client: RegistryClient,
  o: { repository: string; digest: string; image: string },
  get: (reference: string, accept: string) => Promise<{ bytes: Buffer } | undefined>,
): Promise<{ descriptors: { digest: string; artifactType?: unknown }[]; source?: string }> {
  const res = await client.request({
    method: 'GET',
    path: `/v2/${o.repository}/referrers/${o.digest}`,
    repository: o.repository,
    scope: 'pull',
    headers: { accept: OCI_INDEX },
    what: o.image,
  });
  let bytes: Buffer | undefined;
  let source: string | undefined;
  if (res.status === 200) {
    bytes = await capped(res.body as AsyncIterable<Buffer>, `${o.image}: the referrers of ${o.digest}`);
    source = `${o.repository} referrers API`;
  } else {
    await res.body.dump();
    const tag = o.digest.replace(':', '-');
    bytes = (await get(tag, OCI_INDEX))?.bytes;
    if (bytes) source = `${o.repository}:${tag}`;
  }
  const list = bytes ? (parse(bytes) as { manifests?: unknown } | null)?.manifests : undefined;
  if (!Array.isArray(list)) return { descriptors: [], ...(source ? { source } : {}) };
  const descriptors = (list as { digest?: unknown; artifactType?: unknown }[]).filter(
    (d): d is { digest: string; artifactType?: unknown } => typeof d?.digest === 'string' && /^sha256:[a-f0-9]{64}$/.test(d.digest),
  );
  return { descriptors, ...(source ? { source } : {}) };
}

/** A manifest by tag or digest, or undefined on 404. */
async function getSmall(
  client: RegistryClient,
  o: { repository: string; reference: string; accept: string; image: string },
): Promise<{ bytes: Buffer; digest?: string } | undefined> {
  const res = await client.request({
    method: 'GET',
    path: `/v2/${o.repository}/manifests/${o.reference}`,
    repository: o.repository,
    scope: 'pull',
    headers: { accept: o.accept },
    what: o.image,
  });
  if (res.status === 404) {
    await res.body.dump();
    return undefined;
  }
  if (res.status !== 200) {
    await res.body.dump();
    throw new AirgapError('REGISTRY_FAILED', `${o.image}: ${client.endpoint.registry} answered HTTP ${res.status} for ${o.repository}:${o.reference}`, {
      hint: 'check --registry and --prefix (the same as for `applier push`)',
    });
  }
  const bytes = await capped(res.body as AsyncIterable<Buffer>, `${o.image}: ${o.reference}`);
  const digest = headerValue(res.headers['docker-content-digest']);
  return { bytes, ...(digest ? { digest } : {}) };
}

const served = (m: { digest?: string }) => (m.digest ? { digest: m.digest } : {});

function parse(bytes: Buffer): unknown {
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch {
    return null; // the verifier reports it as no manifest with layers
  }
}

function layersOf(doc: unknown): Layer[] {
  const layers = (doc as { layers?: unknown } | null)?.layers;
  return Array.isArray(layers) ? (layers as Layer[]).filter((l) => typeof l === 'object' && l !== null) : [];
}

async function capped(body: AsyncIterable<Buffer>, what: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of body) {
    size += c.length;
    if (size > MAX_BYTES) throw new AirgapError('REGISTRY_FAILED', `${what} is larger than ${MAX_BYTES} bytes`, { hint: 'this is not a cosign signature' });
    chunks.push(c);
  }
  return Buffer.concat(chunks);
}
