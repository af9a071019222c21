/**
 * lockstep run's probe endpoint: the decision (table-driven), the carried-probe parser (table + fast-check), and the
 * endpoint itself over real sockets against a real engine stand-in (an HTTP server whose health the test sets), one
 * threat per test where the module doc lists it.
 */
import { createServer, request, type Server } from 'node:http';
import fc from 'fast-check';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  decideProbe,
  type EngineCheck,
  type ProbeChecks,
  ProbeEndpoint,
  type ProxiedProbe,
  parseEngineCheck,
  type RunPhase,
  runEngineCheck,
} from '../../../leader/run/probe-proxy.js';
import { DomainError } from '../../../src/errors.js';

const HTTP: EngineCheck = { kind: 'httpGet', path: '/health', port: 8000, https: false, headers: [], timeoutMs: 1000 };
const TCP: EngineCheck = { kind: 'tcpSocket', port: 9000, timeoutMs: 1000 };

describe('decideProbe', () => {
  const waiting: RunPhase = { phase: 'waiting', epoch: 2, why: 'engine exited with status 1' };
  const fresh: RunPhase = { phase: 'running', epoch: 2, startedAt: 1000, passed: false };
  const passed: RunPhase = { phase: 'running', epoch: 2, startedAt: 1000, passed: true };
  const both: ProbeChecks = { liveness: HTTP, startup: TCP, startGraceMs: 5000 };
  const livenessOnly: ProbeChecks = { liveness: HTTP, startGraceMs: 0 };
  const none: ProbeChecks = { startGraceMs: 0 };
  type Row = [
    string,
    ProxiedProbe,
    RunPhase,
    ProbeChecks,
    number,
    ReturnType<typeof decideProbe>['answer'],
    EngineCheck?,
    boolean?,
  ];
  const rows: Row[] = [
    ['liveness while the group restarts: alive, no check', 'liveness', waiting, both, 2000, 'pass'],
    ['startup while the group restarts: alive', 'startup', waiting, both, 2000, 'pass'],
    ['liveness while run ends: alive', 'liveness', { phase: 'ending' }, both, 2000, 'pass'],
    [
      'liveness, engine fresh, inside the start grace: check, failure passes',
      'liveness',
      fresh,
      both,
      5999,
      'check',
      HTTP,
      true,
    ],
    ['liveness, engine fresh, grace over: check, failure fails', 'liveness', fresh, both, 6000, 'check', HTTP, false],
    [
      'liveness, engine passed once: failure fails even inside the grace',
      'liveness',
      passed,
      both,
      2000,
      'check',
      HTTP,
      false,
    ],
    ['startup uses its own check', 'startup', passed, both, 9000, 'check', TCP, false],
    ['startup without its own check uses liveness', 'startup', passed, livenessOnly, 9000, 'check', HTTP, false],
    [
      'liveness without its own check uses startup',
      'liveness',
      passed,
      { startup: TCP, startGraceMs: 0 },
      9000,
      'check',
      TCP,
      false,
    ],
    ['no grace: a fresh engine is checked for real', 'liveness', fresh, livenessOnly, 1000, 'check', HTTP, false],
    ['no engine checks carried: alive while run runs', 'liveness', passed, none, 9000, 'pass'],
  ];
  it.each(rows)('%s', (_what, probe, phase, checks, now, answer, check, failurePasses) => {
    const decision = decideProbe(probe, phase, checks, now);
    expect(decision.answer).toBe(answer);
    if (decision.answer === 'check') {
      expect(decision.check).toBe(check);
      expect(decision.failurePasses).toBe(failurePasses);
    }
  });
});

describe('parseEngineCheck', () => {
  it.each([
    [
      'httpGet with defaults',
      '{"httpGet":{"port":8000}}',
      { kind: 'httpGet', path: '/', port: 8000, host: undefined, https: false, headers: [], timeoutMs: 1000 },
    ],
    [
      'httpGet with everything (timing fields ignored)',
      '{"httpGet":{"path":"health","port":"8443","host":"10.0.0.2","scheme":"HTTPS","httpHeaders":[{"name":"X","value":"y"}]},"timeoutSeconds":3,"periodSeconds":5}',
      {
        kind: 'httpGet',
        path: '/health',
        port: 8443,
        host: '10.0.0.2',
        https: true,
        headers: [{ name: 'X', value: 'y' }],
        timeoutMs: 3000,
      },
    ],
    ['tcpSocket', '{"tcpSocket":{"port":9000}}', { kind: 'tcpSocket', port: 9000, host: undefined, timeoutMs: 1000 }],
    ['exec', '{"exec":{"command":["cat","/tmp/ok"]}}', { kind: 'exec', command: ['cat', '/tmp/ok'], timeoutMs: 1000 }],
  ])('%s', (_what, text, want) => {
    expect(parseEngineCheck(text, '--liveness-probe')).toEqual(want);
  });

  it.each([
    ['not JSON', 'http:8000', /not JSON/],
    ['an array', '[]', /not a JSON object/],
    ['no handler', '{"periodSeconds":1}', /exactly one of httpGet, tcpSocket, exec \(found none\)/],
    ['two handlers', '{"httpGet":{"port":1},"tcpSocket":{"port":2}}', /found httpGet, tcpSocket/],
    ['gRPC', '{"grpc":{"port":9090}}', /gRPC probes are not proxied/],
    ['a named port', '{"httpGet":{"port":"http"}}', /port "http" is a name/],
    ['port out of range', '{"tcpSocket":{"port":70000}}', /not a port/],
    ['bad scheme', '{"httpGet":{"port":1,"scheme":"ftp"}}', /scheme must be HTTP or HTTPS/],
    ['bad headers', '{"httpGet":{"port":1,"httpHeaders":[{"name":1}]}}', /httpHeaders/],
    ['empty exec', '{"exec":{"command":[]}}', /non-empty list/],
    ['zero timeout', '{"tcpSocket":{"port":1},"timeoutSeconds":0}', /timeoutSeconds/],
  ])('refuses %s, naming the flag', (_what, text, message) => {
    expect(() => parseEngineCheck(text, '--liveness-probe')).toThrow(DomainError);
    expect(() => parseEngineCheck(text, '--liveness-probe')).toThrow(message);
    expect(() => parseEngineCheck(text, '--liveness-probe')).toThrow(/^--liveness-probe: /);
  });

  it('any input either parses to one handler or is refused with an invalid-value DomainError', () => {
    const probeLike = fc.oneof(
      fc.string(),
      fc.json(),
      fc
        .record({
          httpGet: fc.option(fc.record({ port: fc.oneof(fc.integer(), fc.string()), path: fc.string() })),
          tcpSocket: fc.option(fc.record({ port: fc.oneof(fc.integer(), fc.string()) })),
          exec: fc.option(fc.record({ command: fc.array(fc.string()) })),
          timeoutSeconds: fc.option(fc.integer()),
        })
        .map((o) => JSON.stringify(o, (_k, v) => (v === null ? undefined : v))),
    );
    fc.assert(
      fc.property(probeLike, (text) => {
        try {
          const check = parseEngineCheck(text, '--startup-probe');
          expect(['httpGet', 'tcpSocket', 'exec']).toContain(check.kind);
          expect(check.timeoutMs).toBeGreaterThanOrEqual(1000);
        } catch (err) {
          expect(err).toBeInstanceOf(DomainError);
          expect((err as DomainError).kind).toBe('invalid');
        }
      }),
    );
  });
});

/** The engine stand-in: /health answers with the status the test sets; `hang` never answers. */
class Engine {
  status = 200;
  hang = false;
  readonly seen: string[] = [];
  private readonly server: Server = createServer((req, res) => {
    this.seen.push(`${req.url} ${req.headers['x-probe'] ?? ''}`);
    if (this.hang) return;
    res.writeHead(this.status);
    res.end('x'.repeat(1 << 16));
  });
  port = 0;
  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as { port: number }).port;
  }
  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

function get(port: number, path: string, method = 'GET'): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, agent: false }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => {
        body += c.toString();
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('the probe endpoint against a real engine', () => {
  const engine = new Engine();
  let endpoint: ProbeEndpoint | undefined;
  let now = 0;
  const failures: string[] = [];
  beforeAll(() => engine.start());
  afterAll(() => engine.stop());
  afterEach(async () => {
    await endpoint?.close();
    endpoint = undefined;
    engine.status = 200;
    engine.hang = false;
    failures.length = 0;
  });

  async function serve(graceMs: number): Promise<number> {
    const check: EngineCheck = {
      kind: 'httpGet',
      path: '/health',
      port: engine.port,
      https: false,
      headers: [{ name: 'X-Probe', value: 'lockstep' }],
      timeoutMs: 300,
    };
    endpoint = new ProbeEndpoint({
      port: 0,
      checkHost: '127.0.0.1',
      checks: { liveness: check, startGraceMs: graceMs },
      now: () => now,
      onFailure: (probe, reason) => failures.push(`${probe}: ${reason}`),
    });
    return endpoint.listen();
  }

  it('alive while the group restarts although the engine fails; its failure fails the probe once it runs', async () => {
    const port = await serve(0);
    engine.status = 500;
    expect(await get(port, '/livez')).toEqual({
      status: 200,
      body: 'group restarting or forming (epoch 0): joining the group\n',
    });
    endpoint!.setPhase({ phase: 'running', epoch: 1, startedAt: now, passed: false });
    const dead = await get(port, '/livez');
    expect(dead.status).toBe(503);
    expect(dead.body).toContain('HTTP probe failed with statuscode: 500');
    expect(failures).toEqual([expect.stringMatching(/^liveness: engine of epoch 1 running: HTTP probe failed/)]);
    engine.status = 204;
    expect((await get(port, '/livez')).status).toBe(200);
    // the carried headers reach the engine
    expect(engine.seen.at(-1)).toBe('/health lockstep');
    endpoint!.setPhase({ phase: 'waiting', epoch: 1, why: 'epoch 2 opened' });
    engine.status = 500;
    expect((await get(port, '/startupz')).status).toBe(200);
  });

  it('inside the start grace a failing engine answers alive until it passes once; after that a failure fails', async () => {
    const port = await serve(10_000);
    now = 50_000;
    endpoint!.setPhase({ phase: 'running', epoch: 3, startedAt: now, passed: false });
    engine.status = 503;
    const loading = await get(port, '/livez');
    expect(loading.status).toBe(200);
    expect(loading.body).toContain('within the start grace');
    engine.status = 200;
    expect((await get(port, '/livez')).status).toBe(200);
    engine.status = 503;
    expect((await get(port, '/livez')).status).toBe(503);
    // a new epoch's engine gets its grace again
    endpoint!.setPhase({ phase: 'running', epoch: 4, startedAt: now, passed: false });
    expect((await get(port, '/livez')).status).toBe(200);
    now += 10_000;
    expect((await get(port, '/livez')).status).toBe(503);
  });

  it('threat: an engine that never answers fails at the check timeout, not the kubelet timeout', async () => {
    const port = await serve(0);
    endpoint!.setPhase({ phase: 'running', epoch: 1, startedAt: now, passed: true });
    engine.hang = true;
    const hung = await get(port, '/livez');
    expect(hung.status).toBe(503);
    expect(hung.body).toContain('context deadline exceeded');
  });

  it('threat: a burst of probes shares the one check in flight', async () => {
    const port = await serve(0);
    endpoint!.setPhase({ phase: 'running', epoch: 1, startedAt: now, passed: true });
    const before = engine.seen.length;
    const answers = await Promise.all(Array.from({ length: 20 }, () => get(port, '/livez')));
    expect(answers.every((a) => a.status === 200)).toBe(true);
    expect(engine.seen.length - before).toBeLessThan(20);
  });

  it('threat: other paths and methods run no check', async () => {
    const port = await serve(0);
    endpoint!.setPhase({ phase: 'running', epoch: 1, startedAt: now, passed: true });
    const before = engine.seen.length;
    expect((await get(port, '/readyz')).status).toBe(404);
    expect((await get(port, '/livez', 'POST')).status).toBe(404);
    expect(engine.seen.length).toBe(before);
  });
});

describe('engine checks', () => {
  it('tcpSocket and exec pass and fail as the kubelet decides', async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const open = (server.address() as { port: number }).port;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    expect(await runEngineCheck({ kind: 'tcpSocket', port: open, timeoutMs: 500 }, '127.0.0.1')).toMatch(
      /^dial tcp 127\.0\.0\.1:\d+: ECONNREFUSED$/,
    );
    expect(await runEngineCheck({ kind: 'exec', command: ['true'], timeoutMs: 1000 }, '')).toBeUndefined();
    expect(
      await runEngineCheck({ kind: 'exec', command: ['sh', '-c', 'echo sick; exit 3'], timeoutMs: 1000 }, ''),
    ).toBe('sick');
  });

  it('threat: an exec check that forks and hangs is killed with its group at the timeout', async () => {
    const failure = await runEngineCheck(
      { kind: 'exec', command: ['sh', '-c', 'sleep 30 & sleep 30'], timeoutMs: 300 },
      '',
    );
    expect(failure).toBe('command timed out: sh -c sleep 30 & sleep 30');
  });
});
