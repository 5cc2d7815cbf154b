import { readFile } from 'node:fs/promises';
import {
  AirgapError,
  authFiles,
  createRegistryClient,
  describeRule,
  eachLimit,
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
import { findEvidence } from '../oci/evidence.ts';
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
 * `sha256-<hex>.sig` manifest, and its cosign signature referrers (OCI 1.1), and their payloads
 * from the registry it was pulled from, and verify them
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
      const line = `${image.ref} (${image.digest}) matches images.verify rule ${rule.match} (${describeRule(rule)} from ${rule.key ? rule.key.source : rule.trustedRoot.source}): ${r.reason ?? 'not verified'}`;
      if (rule.mode === 'warn') o.onWarning?.(line);
      else failures.push(line);
    });
  } finally {
    await clients.close();
  }
  if (failures.length > 0) {
    throw new AirgapError('IMAGE_UNVERIFIED', `${failures.length} image(s) have no valid signature:\n${failures.sort().join('\n')}`, {
      hint: 'sign them with the rule key (`cosign sign --key cosign.key IMAGE@DIGEST`) or identity, fix images.verify[].key / identity / trustedRoot, or set mode: warn for that rule',
    });
  }
  return out;
}

/** The artifactType cosign gives a signature it stores as an OCI 1.1 referrer (`cosign sign --registry-referrers-mode=oci-1-1`). */
const COSIGN_SIG_ARTIFACT = 'application/vnd.dev.cosign.artifact.sig.v1+json';

async function verifyOne(o: { image: { ref: string; digest: string }; rule: VerifyRule; cache: BlobCache; client: RegistryClient }) {
  const { repository } = parseReference(o.image.ref);
  // The evidence finder the pull uses: cosign's `.sig` tag, and the referrers (API, else the fallback tag).
  const found = await findEvidence({ client: o.client, cache: o.cache, repository, image: o.image.ref, subjects: [o.image.digest] });
  const signatures = found.evidence.filter((e) => e.kind === 'cosign-sig' || (e.kind === 'referrer' && e.artifactType === COSIGN_SIG_ARTIFACT));
  // Every signature layer of the tag and of the referrers, as one `.sig` manifest would list them.
  const layers = signatures.flatMap((e) => layersOf(JSON.parse(found.manifests.get(e.digest)!.toString('utf8'))));
  const signatureManifest = signatures.length > 0 ? { layers } : undefined;
  const sizes = new Map(layers.flatMap((l) => (typeof l.digest === 'string' && typeof l.size === 'number' ? [[l.digest, l.size] as const] : [])));
  const r = await verifyCosignSignatures({
    imageDigest: o.image.digest,
    imageRef: o.image.ref,
    signatureManifest,
    rule: o.rule,
    async readBlob(digest) {
      const size = sizes.get(digest);
      if (size === undefined) throw new Error(`${digest} is not a signature layer of ${o.image.ref}`);
      await pullBlob({ client: o.client, cache: o.cache, repository, descriptor: { mediaType: 'application/octet-stream', digest, size }, image: o.image.ref });
      return readFile(o.cache.pathOf(digest));
    },
  });
  return signatureManifest ? r : { ...r, reason: `${r.reason ?? 'no signature'}, nor a referrer of type ${COSIGN_SIG_ARTIFACT}` };
}

function layersOf(doc: unknown): { digest?: unknown; size?: unknown }[] {
  const layers = (doc as { layers?: unknown } | undefined)?.layers;
  return Array.isArray(layers) ? (layers as { digest?: unknown; size?: unknown }[]) : [];
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
