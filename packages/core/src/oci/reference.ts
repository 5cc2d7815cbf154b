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
const REFERENCE = new RegExp(`^(?:${HOST})/${COMPONENT}(?:/${COMPONENT})*(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$`);
export const DIGEST_PATTERN = /^sha256:[a-f0-9]{64}$/;

/** A reference checked against the grammar: the spec's, the lock's and the bundle's refs. */
export function parseReference(ref: string): ImageReference {
  if (!REFERENCE.test(ref) || ref.length > 255 + 128 + 72) {
    throw new AirgapError('SPEC_INVALID', `${JSON.stringify(ref)} is not a full image reference`, {
      hint: 'write it with its registry, like docker.io/library/nginx:1.27',
    });
  }
  const parts = splitReference(ref);
  if (!parts.tag && !parts.digest) {
    throw new AirgapError('SPEC_INVALID', `${ref} has neither a tag nor a digest`, {
      hint: `write ${ref}:<tag> or ${ref}@sha256:<digest>; airgap never guesses :latest`,
    });
  }
  return { ...parts, name: ref };
}

/**
 * The parts of a reference, without the grammar check: for refs checked before (a verified
 * bundle's), and the one place a reference is taken apart. The tag is after the last `:` that
 * follows the first `/` (a registry's port comes before it); the digest after `@`.
 */
export function splitReference(ref: string): Omit<ImageReference, 'name'> {
  const at = ref.indexOf('@');
  const digest = at >= 0 ? ref.slice(at + 1) : undefined;
  const name = at >= 0 ? ref.slice(0, at) : ref;
  const slash = name.indexOf('/');
  const colon = name.lastIndexOf(':');
  const hasTag = colon > slash;
  return {
    registry: name.slice(0, Math.max(slash, 0)),
    repository: name.slice(slash + 1, hasTag ? colon : undefined),
    ...(hasTag ? { tag: name.slice(colon + 1) } : {}),
    ...(digest ? { digest } : {}),
  };
}

/** `docker.io/library/nginx:1.27` → `docker.io/library/nginx@sha256:…`. */
export function digestReference(ref: Pick<ImageReference, 'registry' | 'repository'>, digest: string): string {
  return `${ref.registry}/${ref.repository}@${digest}`;
}

/** Docker Hub's API does not answer on docker.io itself. */
export function defaultEndpoint(registry: string): string {
  if (registry === 'docker.io' || registry === 'index.docker.io') return 'https://registry-1.docker.io';
  return `https://${registry}`;
}
