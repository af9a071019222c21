/**
 * Probes as the kubelet runs them: each handler against real sockets and processes (table-driven), then a pod whose
 * readiness, startup and liveness probes decide its Ready condition and restart its container.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { createServer as createTcpServer, type Server as TcpServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENTS, PODS, resourcePath } from '../../../src/kube/resources.js';
import type { Pod } from '../../../src/kube/types.js';
import { startTestCluster, type TestCluster } from '../index.js';
import { execWithTimeout, type ProbeSpec, type ProbeTarget, probePort, runProbe } from './probes.js';

async function until<T>(what: string, probe: () => Promise<T | undefined | false>, ms = 30_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('probe handlers', () => {
  let http: Server;
  let tcp: TcpServer;
  let httpPort = 0;
  let closedPort = 0;
  let dir: string;
  const seen: string[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'probes-'));
    http = createServer((req, res) => {
      seen.push(`${req.url} ${req.headers['x-probe'] ?? ''} ${req.headers['user-agent'] ?? ''}`);
      if (req.url === '/slow') return; // never answers
      const status = Number(/^\/status\/(\d+)$/.exec(req.url ?? '')?.[1] ?? 200);
      res.writeHead(status, status === 302 ? { Location: 'http://elsewhere.invalid/' } : {});
      res.end('x'.repeat(1 << 16));
    });
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    httpPort = (http.address() as { port: number }).port;
    tcp = createTcpServer();
    await new Promise<void>((resolve) => tcp.listen(0, '127.0.0.1', resolve));
    closedPort = (tcp.address() as { port: number }).port;
    await new Promise<void>((resolve) => tcp.close(() => resolve()));
  });
  afterAll(async () => {
    http.closeAllConnections();
    await new Promise<void>((resolve) => http.close(() => resolve()));
    await rm(dir, { recursive: true, force: true });
  });

  const target = (): ProbeTarget => ({
    podIP: '127.0.0.1',
    ports: [{ name: 'http', containerPort: httpPort }],
    exec: (argv, timeoutMs) => execWithTimeout(argv, { PATH: process.env.PATH ?? '/usr/bin:/bin' }, dir, timeoutMs),
  });

  const cases: [string, () => ProbeSpec, boolean, RegExp | undefined][] = [
    ['HTTP 200', () => ({ httpGet: { path: '/status/200', port: httpPort } }), true, undefined],
    ['HTTP 302 (not followed)', () => ({ httpGet: { path: '/status/302', port: httpPort } }), true, undefined],
    ['HTTP 399', () => ({ httpGet: { path: '/status/399', port: httpPort } }), true, undefined],
    ['HTTP 400', () => ({ httpGet: { path: '/status/400', port: httpPort } }), false, /statuscode: 400/],
    ['HTTP 503', () => ({ httpGet: { path: '/status/503', port: httpPort } }), false, /statuscode: 503/],
    ['HTTP by named port', () => ({ httpGet: { path: '/', port: 'http' } }), true, undefined],
    ['HTTP, unknown named port', () => ({ httpGet: { path: '/', port: 'metrics' } }), false, /not a container port/],
    [
      'HTTP that never answers',
      () => ({ httpGet: { path: '/slow', port: httpPort }, timeoutSeconds: 1 }),
      false,
      /deadline exceeded/,
    ],
    ['HTTP, nothing listening', () => ({ httpGet: { port: closedPort } }), false, /ECONNREFUSED/],
    ['TCP open', () => ({ tcpSocket: { port: httpPort } }), true, undefined],
    ['TCP closed', () => ({ tcpSocket: { port: closedPort } }), false, /dial tcp 127\.0\.0\.1:\d+/],
    ['exec exit 0', () => ({ exec: { command: ['true'] } }), true, undefined],
    ['exec exit 3 with output', () => ({ exec: { command: ['sh', '-c', 'echo not yet; exit 3'] } }), false, /not yet/],
    [
      'exec that never exits',
      () => ({ exec: { command: ['sleep', '30'] }, timeoutSeconds: 1 }),
      false,
      /command timed out/,
    ],
    ['exec of a missing program', () => ({ exec: { command: ['/no/such/probe'] } }), false, /ENOENT|exited/],
    ['no handler', () => ({}), false, /no handler/],
  ];
  it.each(cases)('%s', async (_what, probe, ok, message) => {
    const result = await runProbe(probe(), target());
    expect(result.ok).toBe(ok);
    if (message) expect(result.message).toMatch(message);
  });

  it('sends the probe headers and the kubelet user agent', async () => {
    await runProbe(
      { httpGet: { path: '/headers', port: httpPort, httpHeaders: [{ name: 'X-Probe', value: 'yes' }] } },
      target(),
    );
    expect(seen).toContainEqual(expect.stringMatching(/^\/headers yes kube-probe\//));
  });

  it('reads numeric port strings as numbers and names through the container ports', () => {
    const ports = [{ name: 'http', containerPort: 8000 }];
    expect([probePort(8080, ports), probePort('9090', ports), probePort('http', ports), probePort('x', ports)]).toEqual(
      [8080, 9090, 8000, undefined],
    );
  });
});

const NS = 'probes-test';
const PORT = 18_080;

/** A python HTTP server on the pod's own IP: /healthz answers 503 once the file `sick` exists in the shared volume. */
const SERVER = [
  'import http.server, os, sys',
  'class H(http.server.BaseHTTPRequestHandler):',
  '    def do_GET(self):',
  "        sick = os.path.exists('/var/run/shared/sick')",
  '        self.send_response(503 if sick else 200)',
  '        self.end_headers()',
  '    def log_message(self, *a):',
  '        pass',
  "print('serving', flush=True)",
  `http.server.HTTPServer((os.environ['POD_IP'], ${PORT}), H).serve_forever()`,
].join('\n');

describe('a pod whose probes run', () => {
  let cluster: TestCluster;
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'probes-pod-'));
    cluster = await startTestCluster({
      apiServer: { namespaces: [NS], podGracefulDeletion: true },
      workloads: { nodes: [{ name: 'node-a', kind: 'cpu-vm' }], dir },
    });
    cluster.apiServer.store.apply([
      { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'default', namespace: NS } },
      {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'web', namespace: NS },
        spec: {
          nodeName: 'node-a',
          terminationGracePeriodSeconds: 2,
          containers: [
            {
              name: 'server',
              image: 'python:3.12',
              command: ['python3', '-c', SERVER],
              env: [{ name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } }],
              ports: [{ name: 'http', containerPort: PORT }],
              startupProbe: { tcpSocket: { port: 'http' }, periodSeconds: 1, failureThreshold: 30 },
              livenessProbe: { httpGet: { path: '/healthz', port: 'http' }, periodSeconds: 1, failureThreshold: 2 },
              readinessProbe: { exec: { command: ['test', '-f', '/var/run/shared/ready'] }, periodSeconds: 1 },
              volumeMounts: [{ name: 'shared', mountPath: '/var/run/shared' }],
            },
          ],
          volumes: [{ name: 'shared', emptyDir: {} }],
        },
      },
    ]);
  }, 60_000);

  afterAll(async () => {
    await cluster?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const pod = () => cluster.workloads!.client.get<Pod>(resourcePath(PODS, { namespace: NS, name: 'web' }));
  type Status = { ready: boolean; started: boolean; restartCount: number; state: Record<string, unknown> };
  const server = async () => {
    const p = await pod();
    const s = (p.status as { containerStatuses?: Status[] } | undefined)?.containerStatuses?.[0];
    const ready = p.status?.conditions?.find((c) => c.type === 'ContainersReady')?.status;
    return s ? { ...s, containersReady: ready, uid: p.metadata.uid ?? '' } : undefined;
  };
  const shared = async () => {
    const uid = (await pod()).metadata.uid ?? '';
    const logs = cluster.workloads!.node('node-a').runner.logsDir(uid);
    if (!logs) throw new Error('the pod does not run on node-a');
    return join(logs, '..', 'volumes', 'shared');
  };

  it('is started once its startup probe connects, and not Ready while its readiness command fails', async () => {
    const started = await until('the startup probe to pass', async () => {
      const s = await server();
      return s?.started ? s : undefined;
    });
    expect(started.ready).toBe(false);
    expect(started.containersReady).toBe('False');
  });

  it('is Ready once its readiness command succeeds', async () => {
    await writeFile(join(await shared(), 'ready'), '');
    const ready = await until('ContainersReady', async () => {
      const s = await server();
      return s?.containersReady === 'True' ? s : undefined;
    });
    expect(ready.ready).toBe(true);
    expect(ready.restartCount).toBe(0);
  });

  it('is killed and restarted when its liveness endpoint fails, with Unhealthy and Killing events', async () => {
    const dirNow = await shared();
    await writeFile(join(dirNow, 'sick'), '');
    const restarted = await until('the liveness kill and restart', async () => {
      const s = await server();
      return s && s.restartCount >= 1 ? s : undefined;
    });
    await rm(join(dirNow, 'sick'), { force: true });
    expect(restarted.restartCount).toBeGreaterThanOrEqual(1);
    const events = await cluster.workloads!.client.get<{ items: { reason: string; message: string }[] }>(
      resourcePath(EVENTS, { namespace: NS }),
    );
    const messages = events.items.map((e) => `${e.reason}: ${e.message}`);
    expect(messages).toContainEqual('Unhealthy: Liveness probe failed: HTTP probe failed with statuscode: 503');
    expect(messages).toContainEqual('Killing: Container server failed liveness probe, will be restarted');
    // the restarted container is Ready again once its probes pass (the ready file is still there)
    await until('Ready after the restart', async () =>
      (await server())?.containersReady === 'True' ? true : undefined,
    );
    expect(await readFile(join(dirNow, 'ready'), 'utf8')).toBe('');
  }, 60_000);
});
