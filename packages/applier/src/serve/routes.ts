import { splitReference } from '@airgap/core';

/** A request of the OCI distribution API, as far as a read-only registry answers it. */
export type Route =
  | { kind: 'base' }
  | { kind: 'manifest'; repo: string; reference: string }
  | { kind: 'blob'; repo: string; digest: string }
  | { kind: 'tags'; repo: string }
  | { kind: 'referrers'; repo: string; digest: string };

const REPO = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*';
const MANIFEST = new RegExp(`^/v2/(${REPO})/manifests/([A-Za-z0-9_][A-Za-z0-9_.-]{0,127}|sha256:[a-f0-9]{64})$`);
const BLOB = new RegExp(`^/v2/(${REPO})/blobs/(sha256:[a-f0-9]{64})$`);
const TAGS = new RegExp(`^/v2/(${REPO})/tags/list$`);
/** distribution-spec v1.1.0 "Listing Referrers": `GET /v2/<name>/referrers/<digest>`. */
const REFERRERS = new RegExp(`^/v2/(${REPO})/referrers/(sha256:[a-f0-9]{64})$`);

/** Pure: the route of a URL path, or undefined (404). */
export function route(pathname: string): Route | undefined {
  if (pathname === '/v2/' || pathname === '/v2') return { kind: 'base' };
  const m = MANIFEST.exec(pathname);
  if (m) return { kind: 'manifest', repo: m[1]!, reference: m[2]! };
  const b = BLOB.exec(pathname);
  if (b) return { kind: 'blob', repo: b[1]!, digest: b[2]! };
  const t = TAGS.exec(pathname);
  if (t) return { kind: 'tags', repo: t[1]! };
  const f = REFERRERS.exec(pathname);
  if (f) return { kind: 'referrers', repo: f[1]!, digest: f[2]! };
  return undefined;
}

/** `docker.io/library/nginx:1.27` → registry, repository (`repo`) and tag (or digest): core's splitReference. */
export function splitRef(ref: string): { registry: string; repo: string; tag?: string; digest?: string } {
  const { repository, ...rest } = splitReference(ref);
  return { registry: rest.registry, repo: repository, ...(rest.tag ? { tag: rest.tag } : {}), ...(rest.digest ? { digest: rest.digest } : {}) };
}
