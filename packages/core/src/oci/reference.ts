import { AirgapError } from '../errors.ts';

/** A parsed image reference. `name` is what containerd stores: `docker.io/library/nginx:1.27`. */
export interface ImageReference {
  /** Registry host as the user wrote it (`docker.io`, `127.0.0.1:5000`). */
  registry: string;
  /** Repository path inside the registry (`library/nginx`). */
  repository: string;
  tag?: string;
  digest?: string;
  /** The full reference, unchanged. */
  name: string;
}

// The grammar of distribution/reference, with the registry required (the spec refuses short names).
const COMPONENT = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
const HOST = '(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\\[[0-9a-fA-F:]+\\])(?::[0-9]+)?';
const REFERENCE = new RegExp(`^(${HOST})/(${COMPONENT}(?:/${COMPONENT})*)(?::([A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?(?:@(sha256:[a-f0-9]{64}))?$`);
export const DIGEST_PATTERN = /^sha256:[a-f0-9]{64}$/;

export function parseReference(ref: string): ImageReference {
  const m = REFERENCE.exec(ref);
  if (!m || ref.length > 255 + 128 + 72) {
    throw new AirgapError('SPEC_INVALID', `${JSON.stringify(ref)} is not a full image reference`, { hint: 'write it with its registry, like docker.io/library/nginx:1.27' });
  }
  const [, registry, repository, tag, digest] = m;
  if (!tag && !digest) {
    throw new AirgapError('SPEC_INVALID', `${ref} has neither a tag nor a digest`, { hint: `write ${ref}:<tag> or ${ref}@sha256:<digest>; airgap never guesses :latest` });
  }
  return { registry: registry!, repository: repository!, ...(tag ? { tag } : {}), ...(digest ? { digest } : {}), name: ref };
}

/** `docker.io/library/nginx:1.27` → `docker.io/library/nginx@sha256:…`. */
export function digestReference(ref: ImageReference, digest: string): string {
  return `${ref.registry}/${ref.repository}@${digest}`;
}

/** Docker Hub's API does not answer on docker.io itself. */
export function defaultEndpoint(registry: string): string {
  if (registry === 'docker.io' || registry === 'index.docker.io') return 'https://registry-1.docker.io';
  return `https://${registry}`;
}
