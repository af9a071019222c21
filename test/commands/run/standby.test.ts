/**
 * `lockstep run`'s warm standby is started before the rest of `run` loads (src/commands/run/standby.ts): which
 * commands get one (table), that the one it returns is already starting and takes the epoch warm, and that a `run`
 * refused after the standby started (a usage error found later) leaves no interpreter behind.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { WarmPool } from '../../../leader/run/warm.js';
import { EXIT } from '../../../src/cli/exit-codes.js';
import { startStandby } from '../../../src/commands/run/standby.js';
import { silentLogger } from '../../../src/log.js';
import { killAll, lockstep } from '../../leader/support/processes.js';
import { processesMentioning } from '../../support/procfs.js';

const PYTHON = '/usr/bin/python3';
const pools: WarmPool[] = [];
const dirs: string[] = [];

afterEach(() => {
  for (const p of pools.splice(0)) p.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  killAll();
});

function envFileInNewDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'lockstep-standby-'));
  dirs.push(dir);
  return join(dir, 'group.env');
}

const defaults = { warm: true, cold: false, shell: false, engine: 'auto' as const, warmImport: 'json' };

describe('startStandby', () => {
  it.each([
    ['--no-warm', { warm: false }, [PYTHON, 'serve.py']],
    ['--cold', { cold: true }, [PYTHON, 'serve.py']],
    ['--shell', { shell: true }, [PYTHON, 'serve.py']],
    ['a command that is not Python', {}, ['/bin/sleep', '60']],
  ])('%s: starts cold, no standby and no script written', async (_name, flags, argv) => {
    const envFile = envFileInNewDir();
    const pool = await startStandby(
      argv,
      { ...defaults, ...flags, envFile },
      { PATH: process.env.PATH },
      silentLogger(),
    );
    expect(pool).toBeUndefined();
    expect(existsSync(join(envFile, '..', '.lockstep-warm.py'))).toBe(false);
  });

  it('a Python command gets a standby that is already starting and takes the epoch warm', async () => {
    const envFile = envFileInNewDir();
    const argv = [PYTHON, '-c', 'import os, sys; sys.exit(5 if "json" in sys.modules else 6)'];
    const pool = await startStandby(argv, { ...defaults, envFile }, { PATH: process.env.PATH }, silentLogger());
    expect(pool).toBeDefined();
    pools.push(pool!);
    // the launcher was written beside the environment file, and an interpreter runs it already
    const script = join(envFile, '..', '.lockstep-warm.py');
    expect(existsSync(script)).toBe(true);
    expect(processesMentioning(script).length).toBe(1);
    const child = await pool!.claim({ argv, env: { PATH: process.env.PATH } });
    expect(child).toBeDefined();
    const code = await new Promise<number | null>((resolve) => child!.once('exit', (c) => resolve(c)));
    // 5: the entry point ran in the process that had imported `json` ahead
    expect(code).toBe(5);
  }, 30_000);
});

describe('lockstep run refused after its standby started', () => {
  it('a usage error found once the standby runs ends it with run (no interpreter left behind)', async () => {
    const envFile = envFileInNewDir();
    // --liveness-probe without --probe-port is refused inside run, after the standby started
    const proc = lockstep(
      [
        'run',
        '--leader-address',
        '127.0.0.1:9',
        '--pod-name',
        'standby-0',
        '--pod-ip',
        '127.0.0.71',
        '--warm-import',
        'json',
        '--liveness-probe',
        'tcp:8000',
        '--',
        PYTHON,
        '-c',
        'pass',
      ],
      { LOCKSTEP_ENV_FILE: envFile },
    );
    expect(await proc.exited).toBe(EXIT.usage);
    expect(proc.stderr()).toMatch(/error: --liveness-probe and --startup-probe need --probe-port/);
    const script = join(envFile, '..', '.lockstep-warm.py');
    expect(existsSync(script)).toBe(true); // the standby had started
    // the standby is a child of its own process group: run ending must have ended it
    for (let i = 0; i < 50 && processesMentioning(script).length > 0; i++) await new Promise((r) => setTimeout(r, 100));
    expect(processesMentioning(script)).toEqual([]);
  }, 30_000);
});
