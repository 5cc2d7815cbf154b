import { AirgapError, imageRefName, parseReference, type BundleImage, type BundleImageVerified, type LockedEvidence, type Spec } from '@airgap/core';
import type { NamedImage } from './oci/image-layout.ts';
import type { PullListener } from './oci/pull-events.ts';
import { pullImages } from './oci/pull-images.ts';
import type { PullImages } from './plan-bundle.ts';
import { verifyImages } from './verify/verify-images.ts';

export interface ImagesStageOptions {
  /** Resolve digests only, download no blob (`bundler lock`). */
  resolveOnly?: boolean;
  onEvent?: PullListener;
  /** Told about each image a `warn` rule of images.verify could not verify. */
  onWarning?: (message: string) => void;
}

/**
 * The images stage of a build: pull every ref for the spec's platforms into the cache and lay
 * them out as one OCI image layout. With --frozen, each image is pulled by its locked digest.
 */
export function imagesStage(options: ImagesStageOptions = {}): PullImages {
  return async (refs, o) => {
    const spec = o.loaded.spec;
    const pins = new Map<string, string>();
    const evidencePins = new Map<string, LockedEvidence[]>();
    if (o.frozen) {
      for (const ref of refs) {
        const locked = o.lock?.images.find((i) => i.ref === ref);
        if (!locked)
          throw new AirgapError('LOCK_STALE', `--frozen: image ${ref} is not in the lock file`, {
            hint: 'run `bundler lock airgap.yaml` and commit airgap.lock.yaml',
          });
        const own = parseReference(ref).digest;
        if (own && own !== locked.digest)
          throw new AirgapError('LOCK_STALE', `--frozen: ${ref} is locked to ${locked.digest}`, {
            hint: 'run `bundler lock airgap.yaml` and commit airgap.lock.yaml',
          });
        pins.set(ref, locked.digest);
        evidencePins.set(ref, locked.evidence ?? []);
      }
    }
    const evidence = spec.images?.evidence ?? true;
    const r = await pullImages({
      refs,
      platforms: spec.images?.platforms ?? ['linux/amd64'],
      platformsFor: perImagePlatforms(spec),
      attestations: (spec.images?.attestations ?? 'keep') === 'keep',
      evidence,
      evidencePins,
      ...(spec.sources?.registries ? { registries: spec.sources.registries } : {}),
      specDir: o.loaded.dir,
      cacheDir: o.cacheDir,
      pins,
      resolveOnly: options.resolveOnly === true,
      ...(options.onEvent ? { onEvent: options.onEvent } : {}),
    });
    // Before the bundle is written: an enforce rule that fails leaves nothing behind.
    const verified = options.resolveOnly
      ? new Map<string, BundleImageVerified>()
      : await verifyImages({
          rules: spec.images?.verify ?? [],
          // The evidence the pull found (or the lock pinned), so verify does not ask the registry again.
          images: r.images.map((i) => ({
            ref: i.ref,
            digest: i.digest,
            ...(evidence ? { found: { evidence: i.evidence ?? [], manifests: i.manifests } } : {}),
          })),
          ...(spec.sources?.registries ? { registries: spec.sources.registries } : {}),
          specDir: o.loaded.dir,
          cacheDir: o.cacheDir,
          ...(options.onWarning ? { onWarning: options.onWarning } : {}),
        });
    return {
      images: r.names.map((n) => withVerified(bundleImage(n), verified.get(n.image.ref))),
      lock: r.images.map((i) => ({
        ref: i.ref,
        digest: i.digest,
        ...(i.evidence?.length
          ? { evidence: i.evidence.map((e) => ({ kind: e.kind, subject: e.subject, ...(e.tag ? { tag: e.tag } : {}), digest: e.digest })) }
          : {}),
      })),
      sources: r.sources,
      hosts: r.hosts,
    };
  };
}

/** A name of the bundle; a tagged name of a partial index also records its subset index. */
function bundleImage({ name, image, tagged }: NamedImage): BundleImage {
  const s = tagged ? image.subset : undefined;
  return {
    ref: name,
    digest: image.digest,
    mediaType: image.mediaType,
    ...(s ? { subset: { digest: s.digest, size: s.size, platforms: s.platforms } } : {}),
    ...(image.evidence?.length ? { evidence: image.evidence } : {}),
  };
}

function withVerified(image: BundleImage, verified: BundleImageVerified | undefined): BundleImage {
  return verified ? { ...image, verified } : image;
}

/** `images.refs[]` given as `{ref, platforms}`; the same ref twice with different platforms is refused. */
function perImagePlatforms(spec: Spec): Map<string, readonly string[]> {
  const out = new Map<string, readonly string[]>();
  const general = spec.images?.platforms ?? ['linux/amd64'];
  for (const entry of spec.images?.refs ?? []) {
    const ref = imageRefName(entry);
    const platforms = typeof entry === 'string' ? general : entry.platforms;
    const before = out.get(ref);
    if (before && before.join(',') !== platforms.join(',')) {
      throw new AirgapError('SPEC_INVALID', `images.refs lists ${ref} twice, for ${before.join(', ')} and for ${platforms.join(', ')}`, {
        hint: 'keep one entry per image',
      });
    }
    out.set(ref, platforms);
  }
  return out;
}

export const pullImagesForSpec: PullImages = imagesStage();
