import { readFile } from 'node:fs/promises';
import {
  AirgapError,
  authFiles,
  cosignSignatureTag,
  createRegistryClient,
  eachLimit,
  isRegistryError,
  lookupCredentials,
  matchVerifyRule,
  parseReference,
  resolveVerifyRules,
  verifyCosignSignatures,
  type BundleImageVerified,
  type RegistryClient,
  type RegistrySource,
  type SpecVerifyRule,
  type VerifyRule,
} from '@airgap/core';
import { openBlobCache, type BlobCache } from '../oci/blob-cache.ts';
import { fetchManifest } from '../oci/fetch-manifest.ts';
import { pullBlob } from '../oci/pull-blob.ts';
import { endpointFor } from '../oci/registry-endpoints.ts';

export interface VerifyImagesOptions {
  /** `images.verify` as the spec has it. */
  rules: readonly SpecVerifyRule[];
  /** Each pulled image: its spec reference and the digest it resolved to. */
  images: readonly { ref: string; digest: string }[];
  registries?: Readonly<Record<string, RegistrySource>>;
  /** Key paths (and CA paths of sources.registries) are relative to it. */
  specDir: string;
  cacheDir: string;
  authFiles?: readonly string[];
  /** Told about each failure under a `warn` rule. */
  onWarning?: (message: string) => void;
}

/**
 * The build's check of upstream signatures: for each image a rule matches, read its
 * `sha256-<hex>.sig` manifest and payloads from the registry it was pulled from and verify them
 * (core `verifyCosignSignatures`). Every failure under `enforce` is gathered into one
 * IMAGE_UNVERIFIED, so the build stops before anything is written; `warn` ones are reported.
 */
export async function verifyImages(o: VerifyImagesOptions): Promise<Map<string, BundleImageVerified>> {
  const out = new Map<string, BundleImageVerified>();
  if (o.rules.length === 0) return out;
  const rules = await resolveVerifyRules(o.rules, o.specDir);
  const cache = await openBlobCache(o.cacheDir);
  const clients = registryClients(o);
  const failures: string[] = [];
  try {
    await eachLimit([...o.images], 4, async (image) => {
      const rule = matchVerifyRule(image.ref, rules);
      if (!rule) return;
      const r = await verifyOne({ image, rule, cache, client: await clients.get(parseReference(image.ref).registry) });
      const ok = r.verified;
      out.set(image.ref, { rule: rule.match, mode: rule.mode, ok, ...(r.by ? { by: r.by } : {}), ...(r.reason && !ok ? { reason: r.reason } : {}) });
      if (ok) return;
      const line = `${image.ref} (${image.digest}) matches images.verify rule ${rule.match} (key ${rule.key.fingerprint} from ${rule.key.source}): ${r.reason ?? 'not verified'}`;
      if (rule.mode === 'warn') o.onWarning?.(line);
      else failures.push(line);
    });
  } finally {
    await clients.close();
  }
  if (failures.length > 0) {
    throw new AirgapError('IMAGE_UNVERIFIED', `${failures.length} image(s) have no valid signature:\n${failures.sort().join('\n')}`, {
      hint: 'sign them with the rule key (`cosign sign --key cosign.key IMAGE@DIGEST`), fix images.verify[].key, or set mode: warn for that rule',
    });
  }
  return out;
}

async function verifyOne(o: { image: { ref: string; digest: string }; rule: VerifyRule; cache: BlobCache; client: RegistryClient }) {
  const { repository } = parseReference(o.image.ref);
  const tag = cosignSignatureTag(o.image.digest);
  let signatureManifest: unknown;
  try {
    const m = await fetchManifest({ client: o.client, cache: o.cache, repository, reference: tag, image: `${o.image.ref} signature` });
    signatureManifest = JSON.parse(m.bytes.toString('utf8'));
  } catch (err) {
    if (!isRegistryError(err, 'IMAGE_NOT_FOUND')) throw err;
  }
  const sizes = layerSizes(signatureManifest);
  return verifyCosignSignatures({
    imageDigest: o.image.digest,
    imageRef: o.image.ref,
    signatureManifest,
    rule: o.rule,
    async readBlob(digest) {
      const size = sizes.get(digest);
      if (size === undefined) throw new Error(`${digest} is not a layer of ${tag}`);
      await pullBlob({ client: o.client, cache: o.cache, repository, descriptor: { mediaType: 'application/octet-stream', digest, size }, image: o.image.ref });
      return readFile(o.cache.pathOf(digest));
    },
  });
}

function layerSizes(doc: unknown): Map<string, number> {
  const layers = (doc as { layers?: unknown } | undefined)?.layers;
  const out = new Map<string, number>();
  if (!Array.isArray(layers)) return out;
  for (const l of layers as { digest?: unknown; size?: unknown }[]) {
    if (typeof l.digest === 'string' && typeof l.size === 'number') out.set(l.digest, l.size);
  }
  return out;
}

/** One client per registry, reached the way the pull reached it (sources.registries, credentials). */
function registryClients(o: VerifyImagesOptions) {
  const made = new Map<string, Promise<RegistryClient>>();
  const files = o.authFiles ?? authFiles();
  const open = async (registry: string) => {
    const endpoint = await endpointFor(registry, o.registries, o.specDir);
    const host = new URL(endpoint.url).host;
    let found = await lookupCredentials(host, files);
    if (!found.credentials && host !== registry) found = await lookupCredentials(registry, files);
    return createRegistryClient({ endpoint, ...(found.credentials ? { credentials: found.credentials } : {}), credentialsTried: found.tried });
  };
  return {
    get(registry: string): Promise<RegistryClient> {
      let c = made.get(registry);
      if (!c) made.set(registry, (c = open(registry)));
      return c;
    },
    async close(): Promise<void> {
      await Promise.all([...made.values()].map(async (c) => (await c.catch(() => undefined))?.close()));
    },
  };
}
