import type { ImageRefSpec, Spec } from './types.ts';

/** `images.platforms: [all]`: every platform an image offers. */
export const ALL_PLATFORMS = 'all';

/** The platforms a standalone applier and the node checks know, for a bundle of `all` platforms. */
export const NODE_PLATFORMS = ['linux/amd64', 'linux/arm64'] as const;

/** The reference of an `images.refs` entry. */
export const imageRefName = (r: ImageRefSpec): string => (typeof r === 'string' ? r : r.ref);

/** The references of `images.refs`, in spec order. */
export const specImageRefs = (spec: Spec): string[] => (spec.images?.refs ?? []).map(imageRefName);

/** True when `platforms` asks for every platform (`[all]`). */
export const isAllPlatforms = (platforms: readonly string[]): boolean => platforms.includes(ALL_PLATFORMS);
