declare const __AIRGAP_VERSION__: string | undefined;
declare const __AIRGAP_COMMIT__: string | undefined;

/** Replaced at build time by scripts/build.mjs; tests run from source and see "dev". */
export const VERSION = typeof __AIRGAP_VERSION__ === 'string' ? __AIRGAP_VERSION__ : '0.0.0-dev';
export const COMMIT = typeof __AIRGAP_COMMIT__ === 'string' ? __AIRGAP_COMMIT__ : 'dev';
