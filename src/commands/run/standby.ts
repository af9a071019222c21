/**
 * The warm standby of `lockstep run`, started before the rest of `run` loads. The standby's imports (torch: ~1.6 s of
 * CPU) are the longest step of a member's start, and the modules the group protocol needs (gRPC, protobuf) take a
 * few hundred milliseconds to load where the host is busy: started first, the two overlap instead of following each
 * other. So this module imports nothing heavy (child processes and files only).
 */
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { selectEngine } from '../../../leader/engines/index.js';
import { defaultWarmImports, WarmPool, warmPlan } from '../../../leader/run/warm.js';
import { WARM_LAUNCHER_PY } from '../../../leader/run/warm-launcher.js';
import { writeFileAtomic } from '../../fs/atomic-file.js';
import type { Logger } from '../../log.js';
import type { RunFlags } from './index.js';

/** The standby script: bootstrap's (bin/lockstep-warm.py), else written beside the environment file now. */
async function warmScript(envFile: string): Promise<string> {
  const installed = join(dirname(envFile), 'bin', 'lockstep-warm.py');
  if (existsSync(installed)) return installed;
  const own = join(dirname(envFile), '.lockstep-warm.py');
  await mkdir(dirname(own), { recursive: true });
  await writeFileAtomic(own, WARM_LAUNCHER_PY);
  return own;
}

/**
 * The warm standby for this command, already starting, or undefined when the command starts cold (not Python,
 * --shell, --no-warm, --cold, or the script cannot be written). Whoever gets it closes it when `run` ends.
 */
export async function startStandby(
  argv: readonly string[],
  options: Pick<RunFlags, 'warm' | 'cold' | 'shell' | 'envFile' | 'engine' | 'warmImport'>,
  processEnv: NodeJS.ProcessEnv,
  log: Logger,
): Promise<WarmPool | undefined> {
  if (options.warm === false || options.cold === true || options.shell) return undefined;
  const planned = warmPlan(argv);
  if (!planned) return undefined;
  let script: string;
  try {
    script = await warmScript(options.envFile);
  } catch (err) {
    log.warn({ err: String(err) }, 'cannot write the warm standby script: engines start cold');
    return undefined;
  }
  const engine = selectEngine(options.engine, argv).name;
  const imports = options.warmImport
    ? options.warmImport
        .split(',')
        .map((m) => m.trim())
        .filter((m) => m !== '')
    : defaultWarmImports(engine, planned);
  log.info({ python: planned.python, imports }, 'a warm standby keeps the next engine process ready');
  const pool = new WarmPool({ plan: planned, script, imports, env: { ...processEnv }, log });
  pool.prepare();
  return pool;
}
