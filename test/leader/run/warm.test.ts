/**
 * The warm standby with a real Python interpreter: which commands can run warm (table), the handoff (the entry point
 * runs in the standby's own process, with the epoch's environment and argv, and exits with its own status), the
 * signal a stop sends reaching it as it would a cold start, a crashed standby falling back to a cold start, and a table
 * of entry points run cold and warm whose view of their process (argv, `__main__`, sys.path[0], working directory,
 * environment, signal handlers, process group) and whose ending (status or signal) must be the same.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { EngineProcess } from '../../../leader/run/engine-process.js';
import { rendezvousGate, WarmPool, warmPlan } from '../../../leader/run/warm.js';
import { WARM_LAUNCHER_PY } from '../../../leader/run/warm-launcher.js';
import { silentLogger } from '../../../src/log.js';
import { SPAWN_TAG_VARIABLE } from '../../support/child-reaper.js';

const PYTHON = '/usr/bin/python3';

describe('warmPlan', () => {
  it.each([
    [
      ['python3', 'train.py', '--lr', '1'],
      { mode: 'path', target: 'train.py', argv: ['train.py', '--lr', '1'], flags: [] },
    ],
    [
      ['python3', '-u', '-m', 'vllm.entrypoints.openai.api_server', '--port', '8000'],
      {
        mode: 'module',
        target: 'vllm.entrypoints.openai.api_server',
        argv: ['vllm.entrypoints.openai.api_server', '--port', '8000'],
        flags: ['-u'],
      },
    ],
    [
      ['/usr/bin/python3.11', '-X', 'faulthandler', '-c', 'print(1)', 'a'],
      { mode: 'code', target: 'print(1)', argv: ['-c', 'a'], flags: ['-X', 'faulthandler'] },
    ],
    [
      ['torchrun', '--nproc-per-node', '8', 'train.py'],
      {
        mode: 'module',
        target: 'torch.distributed.run',
        argv: ['torchrun', '--nproc-per-node', '8', 'train.py'],
        flags: [],
      },
    ],
  ])('%j runs warm', (argv, want) => {
    expect(warmPlan(argv, () => '/usr/bin/python3')).toMatchObject(want);
  });

  it.each([
    [['/bin/sh', '-c', 'x']],
    [['python3', '-I', 'x.py']],
    [['python3']],
    [['vllm', 'serve', 'm']],
    [['torchrun', 'x.py']],
  ])('%j starts cold', (argv) => {
    expect(warmPlan(argv, () => undefined)).toBeUndefined();
  });
});

describe('rendezvousGate', () => {
  const torchEnv = { RANK: '2', MASTER_ADDR: '10.0.0.5', MASTER_PORT: '29500' };
  it.each([
    ['plain torch, rank 2: waits for rank 0’s store', 'torch', torchEnv, { host: '10.0.0.5', port: 29500 }],
    ['rank 0 hosts the store: no wait', 'torch', { ...torchEnv, RANK: '0' }, undefined],
    ['torchrun brings its own rendezvous', 'torchrun', torchEnv, undefined],
    ['vLLM', 'vllm', torchEnv, undefined],
    ['no rank', 'torch', { MASTER_ADDR: '10.0.0.5', MASTER_PORT: '29500' }, undefined],
    ['no address', 'torch', { RANK: '1', MASTER_PORT: '29500' }, undefined],
    [
      'a Kubernetes service link as the port',
      'torch',
      { ...torchEnv, MASTER_PORT: 'tcp://10.96.0.5:29500' },
      undefined,
    ],
    ['a port out of range', 'torch', { ...torchEnv, MASTER_PORT: '70000' }, undefined],
    ['port 0', 'torch', { ...torchEnv, MASTER_PORT: '0' }, undefined],
    ['a rank that is no number', 'torch', { ...torchEnv, RANK: 'one' }, undefined],
    ['an IPv6 address', 'torch', { ...torchEnv, MASTER_ADDR: 'fd00::5' }, { host: 'fd00::5', port: 29500 }],
  ] as const)('%s', (_name, engine, env, expected) => {
    expect(rendezvousGate(engine, env)).toEqual(expected);
  });
});

describe('WarmPool with a real interpreter', () => {
  const pools: WarmPool[] = [];
  afterEach(() => {
    for (const p of pools.splice(0)) p.close();
  });

  function pool(dir: string, argv: string[], extra: Partial<ConstructorParameters<typeof WarmPool>[0]> = {}) {
    const script = join(dir, 'lockstep-warm.py');
    writeFileSync(script, WARM_LAUNCHER_PY);
    const plan = warmPlan(argv)!;
    const p = new WarmPool({
      plan,
      script,
      imports: ['json', 'no_such_module_xyz'],
      env: { PATH: process.env.PATH },
      log: silentLogger(),
      ...extra,
    });
    pools.push(p);
    return p;
  }

  it('runs the entry point in the standby process with the epoch’s environment and argv, and its exit status', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lockstep-warm-'));
    const out = join(dir, 'out.json');
    const code = [
      'import json, os, sys',
      `json.dump({"pid": os.getpid(), "epoch": os.environ.get("LOCKSTEP_EPOCH"), "argv": sys.argv, "name": __name__, "json_loaded": "json" in sys.modules}, open(${JSON.stringify(out)}, "w"))`,
      'sys.exit(7)',
    ].join('\n');
    const argv = [PYTHON, '-c', code, 'extra'];
    const p = pool(dir, argv);
    p.prepare();
    await new Promise((r) => setTimeout(r, 300));
    const child = await p.claim({ argv, env: { PATH: process.env.PATH, LOCKSTEP_EPOCH: '3' } });
    expect(child).toBeDefined();
    const engine = EngineProcess.adopt(child!, argv, 1000);
    await engine.start();
    const exit = await engine.wait();
    expect(exit).toEqual({ code: 7, signal: null });
    const seen = JSON.parse(readFileSync(out, 'utf8'));
    expect(seen).toEqual({ pid: child!.pid, epoch: '3', argv: ['-c', 'extra'], name: '__main__', json_loaded: true });
  }, 30_000);

  it('a stop reaches a warm engine as it reaches a cold one (SIGTERM to its group)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lockstep-warm-'));
    const argv = [PYTHON, '-c', 'import time\nwhile True: time.sleep(1)'];
    const p = pool(dir, argv);
    p.prepare();
    const child = await p.claim({ argv, env: { PATH: process.env.PATH } });
    const engine = EngineProcess.adopt(child!, argv, 5000);
    await new Promise((r) => setTimeout(r, 200));
    expect(await engine.stop()).toEqual({ code: null, signal: 'SIGTERM' });
  }, 30_000);

  it('a standby still importing when the epoch opens is waited for, not replaced by a cold start', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lockstep-warm-'));
    // a heavy module (torch under load): its import outlasts the handoff bound many times over
    writeFileSync(join(dir, 'slow_heavy_module.py'), 'import time\ntime.sleep(1.5)\n');
    const argv = [PYTHON, '-c', 'import os, sys; sys.exit(3 if "slow_heavy_module" in sys.modules else 4)'];
    const p = pool(dir, argv, {
      imports: ['slow_heavy_module'],
      env: { PATH: process.env.PATH, PYTHONPATH: dir },
      handoffMs: 100,
    });
    p.prepare();
    const standby = (p as unknown as { standby: { child: { pid: number } } }).standby.child.pid;
    const child = await p.claim({ argv, env: { PATH: process.env.PATH } });
    expect(child?.pid).toBe(standby);
    const engine = EngineProcess.adopt(child!, argv, 1000);
    // the entry point ran in the standby, after its import
    expect(await engine.wait()).toEqual({ code: 3, signal: null });
  }, 30_000);

  it('with a gate, the entry point runs only once rank 0’s rendezvous accepts a connection', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lockstep-warm-'));
    // the port is known before anything listens on it: bind, read, close, listen again later
    const port = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, '127.0.0.1', () => {
        const { port: p } = probe.address() as { port: number };
        probe.close(() => resolve(p));
      });
    });
    // 3: rank 0's rendezvous listened when the entry point ran; 4: refused (it ran too early)
    const argv = [
      PYTHON,
      '-c',
      `import socket, sys
try:
    socket.create_connection(("127.0.0.1", ${port}), timeout=5).close()
except OSError:
    sys.exit(4)
sys.exit(3)`,
    ];
    const p = pool(dir, argv, { gateMs: 20_000 });
    p.prepare();
    let server: Server | undefined;
    // rank 0's store comes up well after the release
    const late = setTimeout(() => {
      server = createServer((socket) => socket.destroy()).listen(port, '127.0.0.1');
    }, 500);
    try {
      const child = await p.claim({ argv, env: { PATH: process.env.PATH }, gate: { host: '127.0.0.1', port } });
      const engine = EngineProcess.adopt(child!, argv, 1000);
      expect(await engine.wait()).toEqual({ code: 3, signal: null });
    } finally {
      clearTimeout(late);
      server?.close();
    }
  }, 30_000);

  it('a gate that never opens holds the entry point no longer than its bound', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lockstep-warm-'));
    const ran = join(dir, 'ran');
    const argv = [PYTHON, '-c', `open(${JSON.stringify(ran)}, "w").close()`];
    const p = pool(dir, argv, { gateMs: 300 });
    p.prepare();
    // port 1: nothing listens there (refused at once)
    const child = await p.claim({ argv, env: { PATH: process.env.PATH }, gate: { host: '127.0.0.1', port: 1 } });
    const engine = EngineProcess.adopt(child!, argv, 1000);
    expect(await engine.wait()).toEqual({ code: 0, signal: null });
    expect(existsSync(ran)).toBe(true);
  }, 30_000);

  it('a standby that crashed falls back to a cold start', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lockstep-warm-'));
    const argv = [PYTHON, '-c', 'pass'];
    const p = pool(dir, argv);
    p.prepare();
    const standby = (p as unknown as { standby: { child: { pid: number } } }).standby.child.pid;
    process.kill(standby, 'SIGKILL');
    await new Promise((r) => setTimeout(r, 200));
    expect(await p.claim({ argv, env: {} })).toBeUndefined();
  }, 30_000);

  /**
   * What an entry point sees of its process and how it ends, cold and warm, compared whole: the two must not differ.
   * The probe writes what it sees to $PROBE, then does what the case says.
   */
  const PROBE = [
    'import json, os, signal, sys',
    'handlers = {n: str(signal.getsignal(getattr(signal, n))) for n in ("SIGTERM", "SIGINT", "SIGHUP", "SIGPIPE", "SIGUSR1", "SIGCHLD")}',
    'json.dump({"argv": sys.argv, "name": __name__, "path0": sys.path[0], "cwd": os.getcwd(), "env": dict(os.environ), "handlers": handlers, "pgid_is_pid": os.getpgid(0) == os.getpid()}, open(os.environ["PROBE"], "w"))',
  ].join('\n');

  /**
   * The probe's view less the test harness's leak tag: the tag is added to every process a test spawns (a cold engine
   * is one), while a warm engine sees exactly the epoch's environment the test passed, as it should.
   */
  function withoutSpawnTag(seen: { env: Record<string, string> }): { env: Record<string, string> } {
    const { [SPAWN_TAG_VARIABLE]: _tag, ...env } = seen.env;
    return { ...seen, env };
  }

  it.each([
    ['exits with its status', 'sys.exit(7)'],
    ['an uncaught exception', 'raise RuntimeError("boom")'],
    ['SystemExit with a message', 'raise SystemExit("bye")'],
    ['killed by a signal it sends itself', 'os.kill(os.getpid(), signal.SIGTERM)\nimport time\ntime.sleep(5)'],
    ['KeyboardInterrupt', 'raise KeyboardInterrupt'],
    ['ends normally', 'pass'],
  ])(
    'cold and warm are the same from inside and outside: %s',
    async (_name, ending) => {
      const dir = mkdtempSync(join(tmpdir(), 'lockstep-warm-'));
      const probe = join(dir, 'probe.json');
      const script = join(dir, 'entry.py');
      writeFileSync(script, `${PROBE}\n${ending}\n`);
      const env = { PATH: process.env.PATH, LOCKSTEP_EPOCH: '3', PROBE: probe };
      const seen: Array<{ exit: unknown; probe: unknown }> = [];
      for (const warm of [false, true]) {
        for (const argv of [
          [PYTHON, script, 'a', '--b'],
          [PYTHON, '-c', `exec(open(${JSON.stringify(script)}).read())`, 'x'],
        ]) {
          rmSync(probe, { force: true });
          let engine: EngineProcess;
          if (warm) {
            const p = pool(dir, argv);
            p.prepare();
            const child = await p.claim({ argv, env });
            expect(child).toBeDefined();
            engine = EngineProcess.adopt(child!, argv, 1000);
          } else {
            engine = new EngineProcess(argv, env, 1000);
          }
          await engine.start();
          const exit = await engine.wait();
          seen.push({ exit, probe: withoutSpawnTag(JSON.parse(readFileSync(probe, 'utf8'))) });
        }
      }
      const [coldPath, coldCode, warmPath, warmCode] = seen;
      expect(warmPath).toEqual(coldPath);
      expect(warmCode).toEqual(coldCode);
    },
    60_000,
  );
});
