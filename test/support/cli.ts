import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

export const REPO_ROOT = join(import.meta.dirname, '..', '..');
export const DIST = join(REPO_ROOT, 'dist');

export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a bundled program (dist/<name>.mjs) as a real process (`node --`: see src/cli/lockstep.ts). */
export function runBundle(
  name: 'lockstep' | 'kubectl-lockstep',
  args: readonly string[],
  env: NodeJS.ProcessEnv = {},
  input?: string,
): CliResult {
  const bundle = name === 'lockstep' ? join(DIST, 'lockstep.mjs') : join(DIST, 'plugin', `${name}.mjs`);
  const result = spawnSync(process.execPath, ['--', bundle, ...args], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
    input,
    timeout: 60_000,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}
