/**
 * The warm standby: `lockstep run` keeps the next Python engine process ready, so that what users wait for at
 * formation and at every recovery is no longer the interpreter starting and importing torch/vLLM/SGLang/JAX. The
 * standby (warm-launcher.ts) starts early, imports the engine's heavy modules without touching an accelerator, and
 * waits; on the Release it receives the epoch's environment and argv and runs the entry point in that same process.
 *
 * Constraints (README "Warm standby"): no CUDA/XLA initialisation may happen before the release (the imports do none;
 * a module list that does is the user's to fix with --warm-import or --no-warm); the group environment is applied
 * before the entry point runs, but interpreter-level variables (PYTHONPATH, PYTHONHASHSEED, PYTHONUNBUFFERED…) act
 * when the standby starts, so they come from run's own environment, as they would for the engine; exit codes,
 * signals and the process tree are those of a cold start (same process group handling, same stop). Anything that is
 * not a plain `python [flags] (-m mod | -c code | script)` or `torchrun`, `--shell`, or `--no-warm` starts cold.
 *
 * Threats: a standby that crashed or hangs (the release waits for its imports — a cold start would repeat them — and
 * then a bounded time for its `go`, then the engine starts cold; a crashed one is replaced after the next start); a standby or warm engine left behind by a run killed with
 * SIGKILL, even in the instant between the handoff and the engine record (the launcher arms PR_SET_PDEATHSIG against
 * run's pid, so the kernel kills it with its parent; tested by killing two wrappers at once); a module whose import
 * initialises CUDA (documented; `--warm-import` picks the list); a rendezvous gate that never opens (rank 0 died, a
 * script that rendezvous elsewhere, an address that drops packets: the wait is bounded by RENDEZVOUS_GATE_MS and each
 * connection attempt by what is left of it, then the entry point runs as it would have; tested with nothing listening).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { accessSync, closeSync, constants, openSync, readSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import type { Duplex } from 'node:stream';
import type { Logger } from '../../src/log.js';
import { basename } from '../engines/argv.js';

export interface WarmPlan {
  /** the interpreter (as given, or from torchrun's #! line) */
  python: string;
  /** interpreter flags that act at start-up (-u, -B, -O, -s, -X opt, -W arg) */
  flags: string[];
  mode: 'module' | 'path' | 'code';
  target: string;
  /** sys.argv for the entry point */
  argv: string[];
}

const PYTHON = /^python(\d+(\.\d+)?)?$/;
const NO_ARG_FLAGS = new Set(['-u', '-B', '-O', '-OO', '-s', '-q', '-b', '-bb']);
const ARG_FLAGS = new Set(['-X', '-W']);

/**
 * How a command would run in a standby, or undefined when it must start cold. Pure except for torchrun, whose
 * interpreter comes from its `#!` line (`shebang` reads it; tests pass their own).
 */
export function warmPlan(
  argv: readonly string[],
  shebang: (command: string) => string | undefined = readShebang,
): WarmPlan | undefined {
  const name = basename(argv[0]);
  if (name === 'torchrun') {
    const python = shebang(argv[0]!);
    if (!python) return undefined;
    return { python, flags: [], mode: 'module', target: 'torch.distributed.run', argv: ['torchrun', ...argv.slice(1)] };
  }
  if (!PYTHON.test(name)) return undefined;
  const flags: string[] = [];
  let i = 1;
  while (i < argv.length) {
    const a = argv[i]!;
    if (NO_ARG_FLAGS.has(a)) {
      flags.push(a);
      i++;
    } else if (ARG_FLAGS.has(a) && i + 1 < argv.length) {
      flags.push(a, argv[i + 1]!);
      i += 2;
    } else break;
  }
  const a = argv[i];
  if (a === undefined) return undefined;
  const rest = argv.slice(i + 1);
  if (a === '-m' && rest.length > 0) {
    return { python: argv[0]!, flags, mode: 'module', target: rest[0]!, argv: [rest[0]!, ...rest.slice(1)] };
  }
  if (a === '-c' && rest.length > 0) {
    return { python: argv[0]!, flags, mode: 'code', target: rest[0]!, argv: ['-c', ...rest.slice(1)] };
  }
  // an option the standby does not reproduce (-E, -I, -S, -i, -…): cold
  if (a.startsWith('-')) return undefined;
  return { python: argv[0]!, flags, mode: 'path', target: a, argv: [a, ...rest] };
}

/** Modules each engine's standby imports by default (none initialises an accelerator on import). */
export function defaultWarmImports(engine: string, plan: WarmPlan): string[] {
  if (engine === 'vllm') return ['vllm'];
  if (engine === 'sglang') return ['sglang'];
  if (engine === 'jax') return ['jax'];
  if (engine === 'torch' || engine === 'torchrun' || plan.target === 'torch.distributed.run') {
    return ['torch', 'torch.distributed'];
  }
  return [];
}

/** The interpreter of a script on PATH from its `#!` line (`#!/usr/bin/python3`, `#!/usr/bin/env python3`). */
function readShebang(command: string, path = process.env.PATH ?? ''): string | undefined {
  const candidates = command.includes('/') ? [command] : path.split(delimiter).map((d) => join(d, command));
  for (const file of candidates) {
    try {
      accessSync(file, constants.X_OK);
    } catch {
      continue;
    }
    const fd = openSync(file, 'r');
    try {
      const buffer = Buffer.alloc(256);
      const n = readSync(fd, buffer, 0, 256, 0);
      const first = buffer.subarray(0, n).toString('utf8').split('\n')[0] ?? '';
      const m = /^#!\s*(\S+)(?:\s+(\S+))?/.exec(first);
      if (!m) return undefined;
      const interpreter = basename(m[1]) === 'env' ? m[2] : m[1];
      return interpreter && PYTHON.test(basename(interpreter)) ? interpreter : undefined;
    } finally {
      closeSync(fd);
    }
  }
  return undefined;
}

/** Where a warm engine's first connection goes: rank 0's rendezvous (warm-launcher.ts waits for it to listen). */
export interface RendezvousGate {
  host: string;
  port: number;
}

/**
 * How long a warm engine waits for rank 0's rendezvous to listen before it runs anyway. Warm engines start within
 * milliseconds of the release, so a peer's engine usually connects before rank 0's engine has created its store, and
 * torch's store client retries a refused connection only after a whole second (c10d socket.cpp in torch 1.13): at
 * half the recoveries, that second was most of the recovery. Past this bound the engine runs and torch's own retries
 * take over, so a script that rendezvous elsewhere (its own tcp:// or file:// init) loses this much at each start.
 */
const RENDEZVOUS_GATE_MS = 2000;

/**
 * The rendezvous a warm engine of `engine` waits for, or undefined: plain torch.distributed (init_method env://) on a
 * rank other than 0 connects to the store rank 0 hosts at MASTER_ADDR:MASTER_PORT. Other engines (torchrun, vLLM,
 * SGLang, JAX) start at once. Pure.
 */
export function rendezvousGate(engine: string, env: NodeJS.ProcessEnv): RendezvousGate | undefined {
  if (engine !== 'torch') return undefined;
  const { RANK: rank, MASTER_ADDR: host, MASTER_PORT: portText } = env;
  if (rank === undefined || rank === '0' || !/^\d+$/.test(rank) || !host || !/^\d{1,5}$/.test(portText ?? '')) {
    return undefined;
  }
  const port = Number(portText);
  return port >= 1 && port <= 65535 ? { host, port } : undefined;
}

interface Standby {
  child: ChildProcess;
  control: Duplex;
  /** the lines it wrote so far */
  lines: string[];
  waiters: Array<() => void>;
  exited: boolean;
}

export interface WarmPoolOptions {
  plan: WarmPlan;
  /** the standby script (bin/lockstep-warm.py) */
  script: string;
  imports: string[];
  /** the environment the interpreter starts with (run's own) */
  env: NodeJS.ProcessEnv;
  log: Logger;
  /** how long a release waits for the standby's `go` once it is ready, before starting cold */
  handoffMs?: number;
  /**
   * How long a release waits for a standby that is still importing. A cold start would have to import the same
   * modules from scratch, so replacing a standby that is half-way through (as a fixed short handoff bound did, under
   * load, at formation) only adds time; this bound is for an import that never ends.
   */
  importWaitMs?: number;
  /** how long a warm engine waits for its rendezvous gate (default RENDEZVOUS_GATE_MS) */
  gateMs?: number;
}

/**
 * The variables from which Python decides at start-up whether to coerce the C locale (PEP 538: it then exports
 * LC_CTYPE=C.UTF-8 into its own environment, which every process the engine starts inherits). The standby made that
 * decision with run's environment; the launcher repeats its export for an engine whose environment decides the same.
 */
const LOCALE_VARIABLES = ['LC_ALL', 'LC_CTYPE', 'LANG', 'PYTHONCOERCECLOCALE'] as const;

function localeVariables(env: NodeJS.ProcessEnv): Record<string, string | null> {
  return Object.fromEntries(LOCALE_VARIABLES.map((name) => [name, env[name] ?? null]));
}

/** One standby at a time, prepared ahead; claimed by a release, replaced after each start. */
export class WarmPool {
  private standby: Standby | undefined;
  private closed = false;

  constructor(private readonly options: WarmPoolOptions) {}

  /** Starts a standby unless one is alive. */
  prepare(): void {
    if (this.closed || (this.standby && !this.standby.exited)) return;
    const { plan, script, imports, env } = this.options;
    // its parent's pid: the standby (and the engine it becomes) dies with this process
    const child = spawn(plan.python, [...plan.flags, script, imports.join(','), String(process.pid)], {
      env,
      stdio: ['inherit', 'inherit', 'inherit', 'pipe'],
      detached: true,
    });
    const control = child.stdio[3] as Duplex;
    const standby: Standby = { child, control, lines: [], waiters: [], exited: false };
    let pending = '';
    control.on('data', (d: Buffer) => {
      pending += d.toString();
      let nl = pending.indexOf('\n');
      while (nl >= 0) {
        standby.lines.push(pending.slice(0, nl));
        pending = pending.slice(nl + 1);
        nl = pending.indexOf('\n');
      }
      for (const w of standby.waiters.splice(0)) w();
    });
    control.on('error', () => undefined);
    const gone = () => {
      standby.exited = true;
      for (const w of standby.waiters.splice(0)) w();
    };
    child.once('exit', gone);
    child.once('error', gone);
    this.standby = standby;
  }

  /**
   * Hands the epoch to the standby: resolves with its process (now the engine), or undefined when the engine must
   * start cold (no standby, another interpreter, or the standby did not take the job in time). Never rejects.
   */
  async claim(command: {
    argv: string[];
    env: NodeJS.ProcessEnv;
    gate?: RendezvousGate;
  }): Promise<ChildProcess | undefined> {
    const standby = this.standby;
    this.standby = undefined;
    if (!standby || standby.exited) {
      if (standby) this.options.log.warn('the warm standby is gone: starting the engine cold');
      return undefined;
    }
    const plan = warmPlan(command.argv, () => this.options.plan.python);
    const same =
      plan !== undefined &&
      plan.python === this.options.plan.python &&
      plan.flags.join('\0') === this.options.plan.flags.join('\0');
    if (!plan || !same) {
      this.discard(standby);
      return undefined;
    }
    const job = {
      env: command.env,
      argv: plan.argv,
      mode: plan.mode,
      target: plan.target,
      cwd: process.cwd(),
      startLocale: localeVariables(this.options.env),
      ...(command.gate ? { gate: { ...command.gate, timeoutMs: this.options.gateMs ?? RENDEZVOUS_GATE_MS } } : {}),
    };
    standby.control.write(`${JSON.stringify(job)}\n`);
    // still importing: wait for it (a cold start would import the same from scratch), then for its `go`
    const ready = await this.waitFor(standby, (l) => l.startsWith('ready '), this.options.importWaitMs ?? 600_000);
    const took = ready && (await this.waitFor(standby, (l) => l === 'go', this.options.handoffMs ?? 5000));
    if (!took) {
      this.options.log.warn('the warm standby did not take the epoch: starting the engine cold');
      this.discard(standby);
      return undefined;
    }
    standby.control.destroy();
    return standby.child;
  }

  /** Ends the standby (run is finishing). */
  close(): void {
    this.closed = true;
    if (this.standby) this.discard(this.standby);
    this.standby = undefined;
  }

  private waitFor(standby: Standby, line: (text: string) => boolean, timeoutMs: number): Promise<boolean> {
    return new Promise((resolve) => {
      const check = () => {
        if (standby.lines.some(line)) return finish(true);
        if (standby.exited) return finish(false);
        standby.waiters.push(check);
      };
      const timer = setTimeout(() => finish(false), timeoutMs);
      const finish = (v: boolean) => {
        clearTimeout(timer);
        resolve(v);
      };
      check();
    });
  }

  private discard(standby: Standby): void {
    standby.control.destroy();
    if (!standby.exited && standby.child.pid !== undefined) {
      try {
        process.kill(-standby.child.pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
  }
}
