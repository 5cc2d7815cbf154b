import { AirgapError, headerValue, OCI_INDEX, readEntry, type BundleEvidence, type RegistryClient, type VerifiedBundle } from '@airgap/core';
import { blobPath, imageGraph } from '../images/image-graph.ts';
import { pushBlob } from './blob-push.ts';
import { manifestDigest, putManifest } from './manifest-push.ts';
import type { PushListener } from './push-events.ts';
import { pushTarget } from './push-target.ts';
import { unexpected } from './registry-reply.ts';
import { listedDigests, mergeReferrers, referrerDescriptor, referrersIndex, type ReferrerDescriptor } from '../images/referrers-index.ts';

/** What `applier push` did with the evidence (signatures, attestations, SBOMs) carried beside the images. */
export interface EvidenceSummary {
  /** Evidence manifests put (cosign tags, referrers), and those already there. */
  pushed: number;
  present: number;
  /** Referrers tags (`sha256-<hex>`) written: the upstream index as is, or merged with what the mirror had. */
  referrersTags: { repository: string; tag: string; digest: string; action: 'pushed' | 'merged' | 'present' }[];
  /** The mirror has the OCI 1.1 referrers API (it answered a referrer's PUT with OCI-Subject). */
  referrersApi: boolean;
}

export interface PushEvidenceOptions {
  client: RegistryClient;
  bundle: VerifiedBundle;
  prefix: string;
  chunkSize: number;
  /** Images the registry refused: their evidence is not pushed either. */
  skip?: ReadonlySet<string>;
  onEvent: PushListener;
}

/**
 * Put each image's evidence into the mirror the way upstream published it, byte for byte so the
 * digests stay: cosign's tags as tags, referrers by digest. A referrer's PUT answered with
 * `OCI-Subject` means the registry indexes it for the referrers API; otherwise the client keeps the
 * fallback tag's index itself (distribution-spec v1.1.0 spec.md, "Pushing Manifests with Subject"
 * and "Unavailable Referrers API"): the upstream index where the mirror has none, else a merge.
 */
export async function pushEvidence(o: PushEvidenceOptions): Promise<EvidenceSummary> {
  const s: EvidenceSummary = { pushed: 0, present: 0, referrersTags: [], referrersApi: false };
  const graph = imageGraph(o.bundle);
  const done = new Set<string>();
  for (const image of o.bundle.manifest.images) {
    if (!image.evidence?.length || o.skip?.has(image.ref)) continue;
    const { repository } = pushTarget(image.ref, o.prefix);
    const mo = { client: o.client, repository, image: image.ref };
    const referred = new Map<string, { api: boolean; descriptors: ReferrerDescriptor[] }>();
    for (const e of image.evidence.filter((x) => x.kind !== 'referrers-tag')) {
      const key = `${repository}\0${e.tag ?? e.digest}`;
      if (done.has(key)) continue;
      done.add(key);
      const children = await pushBlobsOf(o, graph, e, repository, image.ref);
      // An index referrer's manifests go first: a registry refuses an index whose children it lacks.
      for (const c of children) {
        const there = (await manifestDigest(mo, c.digest)) === c.digest;
        if (!there && (await putManifest({ ...mo, bundle: o.bundle }, c.digest, c)) !== 'pushed')
          throw new AirgapError(
            'REGISTRY_FAILED',
            `${image.ref}: ${o.client.endpoint.registry} refused manifest ${c.digest} of the referrer index ${e.digest}`,
            {
              hint: 'the registry wants what that manifest lists; re-run `applier push`, and check the registry log',
            },
          );
        o.onEvent({ type: 'manifest', image: image.ref, digest: c.digest, reference: c.digest, action: there ? 'present' : 'pushed' });
      }
      const reference = e.tag ?? e.digest;
      const present = (await manifestDigest(mo, reference)) === e.digest;
      const api = present ? false : await putEvidenceManifest(o, repository, image.ref, e, reference);
      if (present) s.present++;
      else s.pushed++;
      o.onEvent({ type: 'manifest', image: image.ref, digest: e.digest, reference, action: present ? 'present' : 'pushed' });
      if (e.kind !== 'referrer') continue;
      const r = referred.get(e.subject) ?? { api: false, descriptors: [] };
      r.api ||= api;
      r.descriptors.push(referrerDescriptor(await readEntry(o.bundle, blobPath(o.bundle.manifest.imageLayout!, e.digest)), e));
      referred.set(e.subject, r);
    }
    for (const [subject, r] of referred) {
      const api = r.api || (await hasReferrersApi(o.client, repository, subject));
      s.referrersApi ||= api;
      if (api) continue;
      const upstream = image.evidence.find((x) => x.kind === 'referrers-tag' && x.subject === subject);
      const written = await writeReferrersTag(o, { repository, image: image.ref, subject, descriptors: r.descriptors, ...(upstream ? { upstream } : {}) });
      if (!s.referrersTags.some((t) => t.repository === repository && t.tag === written.tag)) s.referrersTags.push({ repository, ...written });
    }
  }
  return s;
}

/** The evidence's blobs into the mirror; returns the manifests below it (an index referrer's children), children first. */
async function pushBlobsOf(
  o: PushEvidenceOptions,
  graph: ReturnType<typeof imageGraph>,
  e: BundleEvidence,
  repository: string,
  image: string,
): Promise<{ digest: string; mediaType: string; entry: string }[]> {
  const blobs: { digest: string; size: number; entry: string }[] = [];
  const children: { digest: string; mediaType: string; entry: string }[] = [];
  await graph.walk({ mediaType: e.mediaType, digest: e.digest, size: e.size }, image, {
    blob: (b, entry, size) => {
      if (!blobs.some((x) => x.digest === b.digest)) blobs.push({ digest: b.digest, size, entry });
    },
    node: (d, entry, isRoot) => {
      if (!isRoot) children.push({ digest: d.digest, mediaType: d.mediaType, entry });
    },
  });
  for (const blob of blobs) {
    const r = await pushBlob({ client: o.client, bundle: o.bundle, blob, repository, image, chunkSize: o.chunkSize, elsewhere: [] });
    o.onEvent({ type: 'blob', image, digest: blob.digest, size: blob.size, action: r.action });
  }
  return children;
}

/** PUT the carried bytes; true when the registry says it indexed the subject (`OCI-Subject`). */
async function putEvidenceManifest(o: PushEvidenceOptions, repository: string, image: string, e: BundleEvidence, reference: string): Promise<boolean> {
  const body = await readEntry(o.bundle, blobPath(o.bundle.manifest.imageLayout!, e.digest));
  const res = await o.client.request({
    method: 'PUT',
    path: `/v2/${repository}/manifests/${reference}`,
    repository,
    scope: 'push,pull',
    headers: { 'content-type': e.mediaType, 'content-length': String(body.length) },
    body: () => body,
  });
  const where = { image, registry: o.client.endpoint.registry };
  if (res.status !== 201) throw await unexpected(res, `PUT of ${e.kind} ${repository}:${reference}`, where);
  await res.body.dump();
  const stored = headerValue(res.headers['docker-content-digest']);
  if (stored && stored !== e.digest)
    throw new AirgapError('REGISTRY_FAILED', `${image}: ${where.registry} stored the ${e.kind} ${repository}:${reference} as ${stored}, not ${e.digest}`, {
      hint: 'the registry rewrites manifests, so signatures would not verify against it: use a registry that keeps them as sent',
    });
  return headerValue(res.headers['oci-subject']) === e.subject;
}

/** A registry with the referrers API answers 200 (an index, maybe empty); one without, 404 (distribution-spec v1.1.0 "Listing Referrers"). */
async function hasReferrersApi(client: RegistryClient, repository: string, subject: string): Promise<boolean> {
  const res = await client.request({
    method: 'GET',
    path: `/v2/${repository}/referrers/${subject}`,
    repository,
    scope: 'push,pull',
    headers: { accept: OCI_INDEX },
  });
  await res.body.dump();
  return res.status === 200;
}

/**
 * The fallback tag `sha256-<hex>` of `subject`: where the mirror has none, the upstream index
 * when the bundle carries it and it lists exactly what was pushed (same digest as upstream), else
 * an index of the pushed referrers; where it has one, that index with ours added (a client's
 * read-modify-write, as the spec describes it). Nothing is removed from the mirror's index.
 */
async function writeReferrersTag(
  o: PushEvidenceOptions,
  t: { repository: string; image: string; subject: string; descriptors: ReferrerDescriptor[]; upstream?: BundleEvidence },
): Promise<{ tag: string; digest: string; action: 'pushed' | 'merged' | 'present' }> {
  const tag = t.subject.replace(':', '-');
  const current = await getIndex(o.client, t.repository, tag, t.image);
  let body: Buffer;
  let action: 'pushed' | 'merged';
  if (!current) {
    const upstream = t.upstream ? await readEntry(o.bundle, blobPath(o.bundle.manifest.imageLayout!, t.upstream.digest)) : undefined;
    const listed = upstream ? listedDigests(upstream) : [];
    const same = upstream && listed.length === t.descriptors.length && t.descriptors.every((d) => listed.includes(d.digest));
    body = same ? upstream : referrersIndex(t.descriptors);
    action = 'pushed';
  } else {
    const merged = mergeReferrers(current.bytes, t.descriptors);
    if (!merged.changed) return { tag, digest: current.digest, action: 'present' };
    body = merged.bytes;
    action = 'merged';
  }
  const res = await o.client.request({
    method: 'PUT',
    path: `/v2/${t.repository}/manifests/${tag}`,
    repository: t.repository,
    scope: 'push,pull',
    headers: { 'content-type': OCI_INDEX, 'content-length': String(body.length) },
    body: () => body,
  });
  if (res.status !== 201)
    throw await unexpected(res, `PUT of the referrers tag ${t.repository}:${tag}`, { image: t.image, registry: o.client.endpoint.registry });
  await res.body.dump();
  const digest = headerValue(res.headers['docker-content-digest']) ?? '';
  o.onEvent({ type: 'manifest', image: t.image, digest, reference: tag, action: 'pushed' });
  return { tag, digest, action };
}

async function getIndex(client: RegistryClient, repository: string, tag: string, image: string): Promise<{ digest: string; bytes: Buffer } | undefined> {
  const res = await client.request({
    method: 'GET',
    path: `/v2/${repository}/manifests/${tag}`,
    repository,
    scope: 'push,pull',
    headers: { accept: OCI_INDEX },
  });
  if (res.status === 404) {
    await res.body.dump();
    return undefined;
  }
  if (res.status !== 200) throw await unexpected(res, `GET of the referrers tag ${repository}:${tag}`, { image, registry: client.endpoint.registry });
  const bytes = Buffer.from(await res.body.arrayBuffer());
  return { digest: headerValue(res.headers['docker-content-digest']) ?? '', bytes };
}
