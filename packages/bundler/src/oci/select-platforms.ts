import { AirgapError, isAllPlatforms, type Descriptor, type Platform } from '@airgap/core';

/** `linux/arm64/v8` → { os, architecture, variant }. */
export function parsePlatform(s: string): Platform {
  const [os = '', architecture = '', variant] = s.split('/');
  return { os, architecture, ...(variant ? { variant } : {}) };
}

export function formatPlatform(p: Platform | undefined): string {
  return p ? [p.os, p.architecture, p.variant].filter(Boolean).join('/') : 'unknown';
}

/** A wanted platform without a variant takes any variant (arm64 indexes often say v8). */
export function platformMatches(have: Platform | undefined, want: Platform): boolean {
  if (!have || have.os !== want.os || have.architecture !== want.architecture) return false;
  return want.variant === undefined || have.variant === want.variant;
}

/** BuildKit's attestation manifest (platform unknown/unknown) describing another child of the index. */
export function isAttestation(d: Descriptor): boolean {
  return d.annotations?.['vnd.docker.reference.type'] === 'attestation-manifest';
}

/** The child an attestation manifest describes (`vnd.docker.reference.digest`). */
export const attestedDigest = (d: Descriptor): string | undefined => d.annotations?.['vnd.docker.reference.digest'];

/**
 * The index entries the bundle keeps: the first match for each wanted platform, or every image
 * entry with `all`. The index itself is kept byte for byte, so the other entries stay listed but
 * their blobs are not carried.
 */
export function selectPlatforms(image: string, manifests: readonly Descriptor[], wanted: readonly string[]): Descriptor[] {
  if (isAllPlatforms(wanted)) return manifests.filter((m) => !isAttestation(m));
  const out: Descriptor[] = [];
  for (const w of wanted) {
    const want = parsePlatform(w);
    const hit = manifests.find((m) => !isAttestation(m) && platformMatches(m.platform, want));
    if (!hit) {
      const offered = [...new Set(manifests.map((m) => formatPlatform(m.platform)).filter((p) => p !== 'unknown/unknown'))];
      throw new AirgapError('PLATFORM_NOT_FOUND', `${image} has no ${w} image (it offers ${offered.join(', ') || 'none'})`, {
        hint: 'remove that platform from images.platforms, or use an image built for it',
      });
    }
    if (!out.includes(hit)) out.push(hit);
  }
  return out;
}

/** The attestation manifests of `chosen` children, when kept. */
export function selectAttestations(manifests: readonly Descriptor[], chosen: readonly Descriptor[], keep: boolean): Descriptor[] {
  if (!keep) return [];
  const digests = new Set(chosen.map((d) => d.digest));
  return manifests.filter((m) => isAttestation(m) && digests.has(attestedDigest(m) ?? ''));
}
