import { readFile } from 'node:fs/promises';
import {
  AirgapError,
  COSIGN_SIG_ARTIFACT,
  authFiles,
  createRegistryClient,
  describeRule,
  eachLimit,
  lookupCredentials,
  matchVerifyRule,
  parseReference,
  resolveVerifyRules,
  SIGSTORE_BUNDLE_V03,
  verifyCosignSignatures,
  type BundleImageVerified,
  type RegistryClient,
  type RegistrySource,
  type SpecVerifyRule,
  type VerifyRule,
} from '@airgap/core';
import { openBlobCache, type BlobCache } from '../oci/blob-cache.ts';
import { findEvidence, type FoundEvidence } from '../oci/evidence.ts';
import { pullBlob } from '../oci/pull-blob.ts';
import { endpointFor } from '../oci/registry-endpoints.ts';

export interface VerifyImagesOptions {
  /** `images.verify` as the spec has it. */
  rules: readonly SpecVerifyRule[];
  /** Each pulled image: its spec reference, the digest it resolved to, and the evidence the pull found for it. */
  images: readonly VerifyImage[];
  registries?: Readonly<Record<string, RegistrySource>>;
  /** Key paths (and CA paths of sources.registries) are relative to it. */
  specDir: string;
  cacheDir: string;
  authFiles?: readonly string[];
  /** Told about each failure under a `warn` rule. */
  onWarning?: (message: string) => void;
}

export interface VerifyImage {
  ref: string;
  digest: string;
  /**
   * What the pull found beside it (`withEvidence`: the registry's listing, or the lock's under
   * --frozen), so the registry is not asked twice; undefined when the pull did not look
   * (`images.evidence: false`), and then the verify step looks itself.
   */
  found?: Pick<FoundEvidence, 'evidence' | 'manifests'>;
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

async function verifyOne(o: { image: VerifyImage; rule: VerifyRule; cache: BlobCache; client: RegistryClient }) {
  const { repository } = parseReference(o.image.ref);
  // What the pull found, else the evidence finder the pull uses: cosign's `.sig` tag, and the referrers (API, else the fallback tag).
  const found = o.image.found ?? (await findEvidence({ client: o.client, cache: o.cache, repository, image: o.image.ref, subjects: [o.image.digest] }));
  const own = found.evidence.filter((e) => e.subject === o.image.digest);
  const signatures = own.filter((e) => e.kind === 'cosign-sig' || (e.kind === 'referrer' && e.artifactType === COSIGN_SIG_ARTIFACT));
  const pull = async (d: { digest: string; size: number }) => {
    await pullBlob({ client: o.client, cache: o.cache, repository, descriptor: { mediaType: 'application/octet-stream', ...d }, image: o.image.ref });
    return readFile(o.cache.pathOf(d.digest));
  };
  const sigstoreBundles = own
    .filter((e) => e.kind === 'referrer' && e.artifactType === SIGSTORE_BUNDLE_V03)
    .map((e) => ({ digest: e.digest, read: () => pull(bundleLayer(found.manifests.get(e.digest)!, e.digest)) }));
  // Every signature layer of the tag and of the referrers, as one `.sig` manifest would list them.
  const layers = signatures.flatMap((e) => layersOf(JSON.parse(found.manifests.get(e.digest)!.toString('utf8'))));
  const signatureManifest = signatures.length > 0 ? { layers } : undefined;
  const sizes = new Map(layers.flatMap((l) => (typeof l.digest === 'string' && typeof l.size === 'number' ? [[l.digest, l.size] as const] : [])));
  const r = await verifyCosignSignatures({
    imageDigest: o.image.digest,
    imageRef: o.image.ref,
    signatureManifest,
    rule: o.rule,
    ...(sigstoreBundles.length > 0 ? { sigstoreBundles } : {}),
    async readBlob(digest) {
      const size = sizes.get(digest);
      if (size === undefined) throw new Error(`${digest} is not a signature layer of ${o.image.ref}`);
      return pull({ digest, size });
    },
  });
  return signatureManifest || sigstoreBundles.length > 0 || r.verified
    ? r
    : { ...r, reason: `${r.reason ?? 'no signature'}, nor a referrer of type ${COSIGN_SIG_ARTIFACT} or ${SIGSTORE_BUNDLE_V03}` };
}

/** The one layer of a Sigstore bundle referrer: the bundle JSON (sigstore/cosign pkg/oci/remote, the v0.3 bundle as a referrer). */
function bundleLayer(bytes: Buffer, digest: string): { digest: string; size: number } {
  const [layer] = layersOf(JSON.parse(bytes.toString('utf8')));
  if (!layer || typeof layer.digest !== 'string' || typeof layer.size !== 'number') throw new Error(`Sigstore bundle referrer ${digest} has no layer`);
  return { digest: layer.digest, size: layer.size };
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
