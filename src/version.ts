/** Replaced at bundle time by scripts/build.mjs; the fallback serves tests that run from source. */
declare const __LOCKSTEP_VERSION__: string | undefined;

export const VERSION: string = typeof __LOCKSTEP_VERSION__ === 'string' ? __LOCKSTEP_VERSION__ : '0.1.0-dev';

/** The container image this build belongs to; `lockstep inject` and deploy/ use it. */
export const IMAGE = `ghcr.io/lockstep-dev/lockstep:v${VERSION}`;
