import { AirgapError, splitReference } from '@airgap/core';

/** Where one bundle image goes in the mirror: same repository path (under the prefix) and tag. */
export interface PushTarget {
  /** The bundle's ref, e.g. `docker.io/library/nginx:1.27`. */
  image: string;
  /** Repository in the mirror, e.g. `mirror/library/nginx`. */
  repository: string;
  /** Tag to set; absent for a digest-only ref. */
  tag?: string;
}

const COMPONENT = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
const PREFIX = new RegExp(`^(?:${COMPONENT}/)*$`);

/** `mirror` or `mirror/` → `mirror/`; refuses what is not a repository path. */
export function normalizePrefix(prefix: string | undefined): string {
  if (!prefix) return '';
  const p = prefix.replace(/^\/+/, '').replace(/\/*$/, '/');
  if (!PREFIX.test(p)) {
    throw new AirgapError('USAGE', `--prefix ${JSON.stringify(prefix)} is not a repository path`, {
      hint: 'use lower-case path components like mirror/ or site/mirror/',
    });
  }
  return p;
}

/** `docker.io/library/nginx:1.27` with prefix `mirror/` → `mirror/library/nginx`, tag `1.27`. */
export function pushTarget(ref: string, prefix: string): PushTarget {
  const r = splitReference(ref);
  return { image: ref, repository: `${prefix}${r.repository}`, ...(r.tag ? { tag: r.tag } : {}) };
}

/**
 * The mirror has one namespace for every upstream registry (each registry's hosts.toml points at
 * it), so `docker.io/x/y:1` and `quay.io/x/y:1` would land on the same tag: refuse that up front.
 */
export function checkCollisions(targets: readonly { target: PushTarget; digest: string }[]): void {
  const seen = new Map<string, { image: string; digest: string }>();
  for (const { target, digest } of targets) {
    if (!target.tag) continue;
    const key = `${target.repository}:${target.tag}`;
    const other = seen.get(key);
    if (other && other.digest !== digest) {
      throw new AirgapError('TARGET_CONFLICT', `${other.image} and ${target.image} would both be pushed as ${key}`, {
        hint: 'the mirror has one namespace for every upstream registry: drop one of the two from images.refs, or give each registry its own mirror',
      });
    }
    seen.set(key, { image: target.image, digest });
  }
}
