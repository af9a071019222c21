import { join } from 'node:path';

/** The repository's root, for tests that read its files (dist/ only through ./build.ts). */
export const REPO_ROOT = join(import.meta.dirname, '..', '..');
