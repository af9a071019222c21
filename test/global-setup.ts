import { execFileSync } from 'node:child_process';

/**
 * Tests that run the real programs use the bundles in dist/. Building takes about a second, so every test run builds
 * first; the build writes each file atomically, so parallel runs never see half a bundle.
 */
export default function setup(): void {
  execFileSync(process.execPath, ['scripts/build.mjs'], { stdio: 'inherit' });
}
