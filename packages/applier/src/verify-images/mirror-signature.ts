import { AirgapError, cosignSignatureTag, headerValue, OCI_MANIFEST, type RegistryClient } from '@airgap/core';

/** A signature manifest or payload is small; anything bigger is not one (and is not read into memory). */
const MAX_BYTES = 4 * 1024 * 1024;

export interface MirrorSignature {
  /** The parsed `sha256-<hex>.sig` manifest, undefined when the mirror has no such tag. */
  manifest: unknown;
  /** Its digest as the mirror served it. */
  digest?: string;
  readBlob: (digest: string) => Promise<Buffer>;
}

/** Read what the mirror holds under `repository:sha256-<hex>.sig` for `digest`, and a reader for its payload blobs. */
export async function mirrorSignature(client: RegistryClient, repository: string, digest: string, image: string): Promise<MirrorSignature> {
  const tag = cosignSignatureTag(digest);
  const res = await client.request({
    method: 'GET',
    path: `/v2/${repository}/manifests/${tag}`,
    repository,
    scope: 'pull',
    headers: { accept: `${OCI_MANIFEST}, application/vnd.docker.distribution.manifest.v2+json` },
    what: image,
  });
  const readBlob = async (blob: string) => {
    const r = await client.request({ method: 'GET', path: `/v2/${repository}/blobs/${blob}`, repository, scope: 'pull', followRedirects: true, what: image });
    if (r.status !== 200) {
      await r.body.dump();
      throw new Error(`${client.endpoint.registry} answered HTTP ${r.status} for blob ${blob}`);
    }
    return capped(r.body as AsyncIterable<Buffer>, `${image}: blob ${blob}`);
  };
  if (res.status === 404) {
    await res.body.dump();
    return { manifest: undefined, readBlob };
  }
  if (res.status !== 200) {
    await res.body.dump();
    throw new AirgapError('REGISTRY_FAILED', `${image}: ${client.endpoint.registry} answered HTTP ${res.status} for ${repository}:${tag}`, {
      hint: 'check --registry and --prefix (the same as for `applier push`)',
    });
  }
  const bytes = await capped(res.body as AsyncIterable<Buffer>, `${image}: ${tag}`);
  let manifest: unknown;
  try {
    manifest = JSON.parse(bytes.toString('utf8'));
  } catch {
    manifest = null; // the verifier reports it as no manifest with layers
  }
  const served = headerValue(res.headers['docker-content-digest']);
  return { manifest, ...(served ? { digest: served } : {}), readBlob };
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
