import { AirgapError } from '@airgap/core';
import type { PullImages } from './plan-bundle.ts';

/** The images stage of a build. Replaced by the OCI pull once it lands. */
export const pullImagesForSpec: PullImages = (refs) => {
  return Promise.reject(new AirgapError('USAGE', `this bundler cannot pull images yet (${refs.length} requested)`, { hint: 'set images.k8sFeatures: false and remove images.refs for now' }));
};
