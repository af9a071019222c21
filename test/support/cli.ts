import { spawnSync } from 'node:child_process';
import { bundlePath } from './build.js';

export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs a bundled program (dist/<name>.mjs, built first when its sources changed) as a real process (`node --`: see
 * src/cli/lockstep.ts).
 */
export function runBundle(
  name: 'lockstep' | 'kubectl-lockstep',
  args: readonly string[],
  env: NodeJS.ProcessEnv = {},
  input?: string,
): CliResult {
  const result = spawnSync(process.execPath, ['--', bundlePath(name), ...args], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
    input,
    timeout: 60_000,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}
