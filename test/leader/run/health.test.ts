/**
 * Health checks: the --health parser (table + property), the pure judgement (table), and the real probes against a
 * real HTTP server, a TCP listener and shell commands on loopback (port 0).
 */
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createTcpServer } from 'node:net';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import {
  defaultHealthProbe,
  HealthCheckError,
  HealthMonitor,
  type HealthSpec,
  INITIAL_HEALTH,
  judge,
  parseHealthCheck,
  processState,
  runProbe,
} from '../../../leader/run/health.js';

describe('--health', () => {
  it.each([
    ['none', undefined],
    ['auto', 'auto'],
    ['http://127.0.0.1:8000/health', { kind: 'http', url: 'http://127.0.0.1:8000/health' }],
    ['http:9000', { kind: 'http', url: 'http://127.0.0.1:9000/health' }],
    ['http:9000/ready', { kind: 'http', url: 'http://127.0.0.1:9000/ready' }],
    ['tcp:6379', { kind: 'tcp', host: '127.0.0.1', port: 6379 }],
    ['tcp:10.0.0.5:6379', { kind: 'tcp', host: '10.0.0.5', port: 6379 }],
    ['tcp:[::1]:6379', { kind: 'tcp', host: '::1', port: 6379 }],
    ['exec:/bin/check --deep', { kind: 'exec', command: '/bin/check --deep' }],
  ])('%s', (text, want) => {
    expect(parseHealthCheck(text)).toEqual(want);
  });

  it.each(['tcp:0', 'tcp:70000', 'tcp:x', 'http:port', 'exec:', 'https://x/health', 'grpc:50051', 'tcp::80'])(
    'refuses %s with a message naming it',
    (text) => {
      expect(() => parseHealthCheck(text)).toThrow(HealthCheckError);
      expect(() => parseHealthCheck(text)).toThrow(/--health/);
    },
  );

  it('every port round-trips; any other text is a check or a HealthCheckError, never a crash', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 65_535 }), (p) => {
        expect(parseHealthCheck(`tcp:${p}`)).toEqual({ kind: 'tcp', host: '127.0.0.1', port: p });
        expect(parseHealthCheck(`http:${p}/h`)).toEqual({ kind: 'http', url: `http://127.0.0.1:${p}/h` });
      }),
    );
    fc.assert(
      fc.property(fc.string(), (text) => {
        try {
          parseHealthCheck(text);
        } catch (err) {
          expect(err).toBeInstanceOf(HealthCheckError);
        }
      }),
    );
  });

  it.each([
    ['vllm', ['vllm', 'serve', 'm'], 0, 'http://127.0.0.1:8000/health'],
    ['vllm', ['vllm', 'serve', 'm', '--port', '9001'], 0, 'http://127.0.0.1:9001/health'],
    ['vllm', ['vllm', 'serve', 'm', '--host', '10.1.2.3'], 0, 'http://10.1.2.3:8000/health'],
    ['vllm', ['python3', '-m', 'vllm.entrypoints.openai.api_server'], 0, 'http://127.0.0.1:8000/health'],
    ['vllm', ['vllm', 'serve', 'm', '--headless'], 1, undefined],
    ['sglang', ['python3', '-m', 'sglang.launch_server', '--model-path', 'm'], 0, 'http://127.0.0.1:30000/health'],
    ['sglang', ['python3', '-m', 'sglang.launch_server', '--port=31000'], 0, 'http://127.0.0.1:31000/health'],
    ['sglang', ['python3', '-m', 'sglang.launch_server'], 2, undefined],
    ['torch', ['python3', 'train.py'], 0, undefined],
  ])('auto for %s %j on rank %i → %s', (engine, argv, rank, url) => {
    const probe = defaultHealthProbe(engine, argv, rank);
    expect(probe?.kind === 'http' ? probe.url : probe).toBe(url);
  });
});

const SPEC: HealthSpec = {
  probe: { kind: 'http', url: 'http://127.0.0.1:8000/health' },
  periodMs: 1000,
  failureThreshold: 3,
  startGraceMs: 60_000,
  timeoutMs: 500,
};

describe('judge', () => {
  const fail = { kind: 'probe', ok: false, detail: 'HTTP 503' } as const;
  const pass = { kind: 'probe', ok: true } as const;

  it.each([
    // observations, ms since start for each, unhealthy after the last?
    ['three failures in a row after the grace', [fail, fail, fail], 61_000, true],
    ['failures inside the start grace do not count', [fail, fail, fail], 1000, false],
    ['a pass ends the grace early', [pass, fail, fail, fail], 1000, true],
    ['a pass in between resets the count', [fail, fail, pass, fail, fail], 61_000, false],
    [
      'stopped three times in a row',
      [
        { kind: 'process', state: 'T' },
        { kind: 'process', state: 'T' },
        { kind: 'process', state: 'T' },
      ],
      0,
      true,
    ],
    [
      'a zombie three times',
      [
        { kind: 'process', state: 'Z' },
        { kind: 'process', state: 'Z' },
        { kind: 'process', state: 'Z' },
      ],
      0,
      true,
    ],
    [
      'stopped, then running again',
      [
        { kind: 'process', state: 't' },
        { kind: 'process', state: 't' },
        { kind: 'process', state: 'S' },
      ],
      0,
      false,
    ],
    [
      'a process that is gone is its exit’s business',
      [
        { kind: 'process', state: undefined },
        { kind: 'process', state: undefined },
        { kind: 'process', state: undefined },
      ],
      0,
      false,
    ],
  ] as const)('%s', (_name, observations, at, unhealthy) => {
    let state = INITIAL_HEALTH;
    let reason: string | undefined;
    for (const o of observations) {
      const out = judge(state, o, at, SPEC);
      state = out.state;
      reason = out.unhealthy ?? reason;
    }
    expect(reason !== undefined).toBe(unhealthy);
  });

  it('the reason names the check, the count and the last error', () => {
    let state = INITIAL_HEALTH;
    let reason: string | undefined;
    for (let i = 0; i < 3; i++) {
      const out = judge(state, { kind: 'probe', ok: false, detail: 'ECONNREFUSED' }, 70_000, SPEC);
      state = out.state;
      reason = out.unhealthy;
    }
    expect(reason).toBe(
      'health check GET http://127.0.0.1:8000/health failed 3 times in a row (every 1s): ECONNREFUSED',
    );
    let ps = INITIAL_HEALTH;
    for (let i = 0; i < 3; i++) {
      const out = judge(ps, { kind: 'process', state: 'T' }, 0, SPEC);
      ps = out.state;
      reason = out.unhealthy;
    }
    expect(reason).toBe('health check failed: the engine process is stopped (state T), 3 checks in a row (every 1s)');
  });
});

describe('probes on loopback', () => {
  const servers: Array<{ close(): void }> = [];
  afterEach(() => {
    for (const s of servers.splice(0)) s.close();
  });

  async function http(handler: Parameters<typeof createHttpServer>[1]): Promise<number> {
    const server: Server = createHttpServer(handler);
    servers.push({
      close: () => {
        server.closeAllConnections();
        server.close();
      },
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    return (server.address() as { port: number }).port;
  }

  it('http: 2xx/3xx pass, 5xx fails, a server that never answers times out, a closed port is refused', async () => {
    const ok = await http((_req, res) => res.writeHead(204).end());
    const bad = await http((_req, res) => res.writeHead(503).end());
    const hang = await http(() => undefined);
    // a body that never ends: the status line is enough
    const stream = await http((_req, res) => {
      res.writeHead(200);
      res.write('x');
    });
    expect(await runProbe({ kind: 'http', url: `http://127.0.0.1:${ok}/health` }, 1000)).toBeUndefined();
    expect(await runProbe({ kind: 'http', url: `http://127.0.0.1:${bad}/health` }, 1000)).toBe('HTTP 503');
    expect(await runProbe({ kind: 'http', url: `http://127.0.0.1:${hang}/health` }, 200)).toBe(
      'no answer within 200ms',
    );
    expect(await runProbe({ kind: 'http', url: `http://127.0.0.1:${stream}/health` }, 1000)).toBeUndefined();
  });

  it('tcp: a listener passes; nothing listening fails', async () => {
    const server = createTcpServer((s) => s.destroy());
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const p = (server.address() as { port: number }).port;
    expect(await runProbe({ kind: 'tcp', host: '127.0.0.1', port: p }, 1000)).toBeUndefined();
    server.close();
    await new Promise((r) => setTimeout(r, 20));
    expect(await runProbe({ kind: 'tcp', host: '127.0.0.1', port: p }, 1000)).toBe('ECONNREFUSED');
  });

  it('exec: exit 0 passes, an exit code fails, a hung command (and what it forked) is killed at the timeout', async () => {
    expect(await runProbe({ kind: 'exec', command: 'true' }, 1000)).toBeUndefined();
    expect(await runProbe({ kind: 'exec', command: 'exit 7' }, 1000)).toBe('exited with code 7');
    expect(await runProbe({ kind: 'exec', command: 'sleep 30 & wait' }, 200)).toBe('did not finish within 200ms');
  });

  it('the process state of a real stopped process reads T', async () => {
    const { spawn } = await import('node:child_process');
    const child = spawn('sleep', ['30'], { stdio: 'ignore' });
    try {
      await new Promise((r) => child.once('spawn', r));
      child.kill('SIGSTOP');
      for (let i = 0; i < 100 && processState(child.pid!) !== 'T'; i++) await new Promise((r) => setTimeout(r, 10));
      expect(processState(child.pid!)).toBe('T');
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('the monitor reports once, after the threshold, and stops', async () => {
    const reasons: string[] = [];
    let now = 100_000;
    const monitor = new HealthMonitor({
      spec: { ...SPEC, startGraceMs: 0 },
      pid: 1,
      onUnhealthy: (r) => reasons.push(r),
      now: () => now,
      probe: () => Promise.resolve('HTTP 500'),
      readState: () => 'S',
    });
    for (let i = 0; i < 5; i++) {
      now += 1000;
      await monitor.tick();
    }
    expect(reasons).toEqual([
      'health check GET http://127.0.0.1:8000/health failed 3 times in a row (every 1s): HTTP 500',
    ]);
  });
});
