import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { DeviceHealthBoard } from '../../../agent/health/board.js';
import { AgentMetrics, deviceType } from '../../../agent/metrics/registry.js';
import { AgentHttpServer, MAX_REQUEST_HEAD_BYTES, parseHttpAddress } from '../../../agent/metrics/server.js';

const servers: AgentHttpServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.stop();
});

async function serve(metrics = new AgentMetrics({ defaultMetrics: false })) {
  const server = new AgentHttpServer({ address: '127.0.0.1:0', registry: metrics.registry });
  servers.push(server);
  await server.start();
  const get = async (path: string, method = 'GET') => {
    const res = await fetch(`http://${server.address()}${path}`, { method });
    return { status: res.status, body: await res.text(), type: res.headers.get('content-type') };
  };
  return { server, metrics, get };
}

describe('parseHttpAddress', () => {
  it('reads the forms the flag takes', () => {
    expect(parseHttpAddress(':8080')).toEqual({ port: 8080 });
    expect(parseHttpAddress('127.0.0.5:0')).toEqual({ host: '127.0.0.5', port: 0 });
    expect(parseHttpAddress('[::1]:9000')).toEqual({ host: '::1', port: 9000 });
  });

  it('refuses anything else with a message naming the flag', () => {
    for (const bad of ['8080', 'host:', ':99999', 'a:b:c', '']) {
      expect(() => parseHttpAddress(bad)).toThrow(/--http-address .*expected \[host\]:port/);
    }
  });
});

describe('AgentHttpServer', () => {
  it('serves device health, XIDs, scan durations and API errors on /metrics', async () => {
    const board = new DeviceHealthBoard();
    board.set('gpu-0', { state: 'healthy' });
    const { metrics, get } = await serve();
    metrics.watchBoard(board);
    board.set('gpu-4', { state: 'unhealthy', reason: 'XID-79-fallen-off-bus' }, 'xid');
    board.set('nic-0000-1a-00-0', { state: 'unknown' });
    metrics.xid(79, 'gpu-4', true);
    metrics.xid(13, undefined, false);
    metrics.scan('nvidia-smi', 0.42);
    metrics.apiError('pod-reporter', 'patch', 'pods/status', 500);
    metrics.kernelLogLost(3);
    const { status, body, type } = await get('/metrics');
    expect(status).toBe(200);
    expect(type).toContain('text/plain');
    expect(body).toContain('lockstep_device_health{device="gpu-0",type="gpu",state="healthy"} 1');
    expect(body).toContain('lockstep_device_health{device="gpu-4",type="gpu",state="unhealthy"} 1');
    expect(body).toContain('lockstep_device_health{device="gpu-4",type="gpu",state="healthy"} 0');
    expect(body).toContain('lockstep_device_health{device="nic-0000-1a-00-0",type="nic",state="unknown"} 1');
    expect(body).toContain('lockstep_device_health_changes_total{device="gpu-4",state="unhealthy"} 1');
    expect(body).toContain('lockstep_xid_events_total{device="gpu-4",xid="79",fault="true"} 1');
    expect(body).toContain('lockstep_xid_events_total{device="unknown",xid="13",fault="false"} 1');
    expect(body).toContain('lockstep_health_scan_duration_seconds_count{monitor="nvidia-smi"} 1');
    expect(body).toContain(
      'lockstep_api_errors_total{component="pod-reporter",verb="patch",resource="pods/status",code="500"} 1',
    );
    expect(body).toContain('lockstep_kernel_log_records_lost_total 3');
  });

  it('includes process metrics (resident memory) by default', async () => {
    const { get } = await serve(new AgentMetrics());
    expect((await get('/metrics')).body).toMatch(/^process_resident_memory_bytes \d+/m);
  });

  it('answers /readyz 503 until every readiness check passes, listing the failing ones', async () => {
    const { server, get } = await serve();
    let synced = false;
    server.addReadinessCheck('pods-synced', () => synced);
    server.addReadinessCheck('slices', () => 'not published yet');
    expect(await get('/readyz')).toMatchObject({
      status: 503,
      body: '[-]pods-synced failed: not ready\n[-]slices failed: not published yet\nnot ok\n',
    });
    synced = true;
    server.addReadinessCheck('slices', async () => true);
    expect(await get('/readyz')).toMatchObject({ status: 200, body: 'ok\n' });
    expect((await get('/readyz?verbose')).body).toBe('[+]pods-synced ok\n[+]slices ok\nok\n');
  });

  it('answers /healthz, 404 for other paths and 405 for other methods', async () => {
    const { server, get } = await serve();
    expect(await get('/healthz')).toMatchObject({ status: 200, body: 'ok\n' });
    server.addLivenessCheck('event-loop', () => {
      throw new Error('stuck');
    });
    expect(await get('/healthz')).toMatchObject({ status: 503, body: '[-]event-loop failed: stuck\nnot ok\n' });
    expect((await get('/nope')).status).toBe(404);
    expect((await get('/metrics', 'POST')).status).toBe(405);
  });

  it('fails to start on an address in use', async () => {
    const { server } = await serve();
    const second = new AgentHttpServer({
      address: server.address(),
      registry: new AgentMetrics({ defaultMetrics: false }).registry,
    });
    await expect(second.start()).rejects.toThrow(/EADDRINUSE/);
  });

  it('names device types from device names', () => {
    expect(deviceType('gpu-3')).toBe('gpu');
    expect(deviceType('tpu-0')).toBe('tpu');
    expect(deviceType('nic-0000-1a-00-0')).toBe('nic');
    expect(deviceType('weird')).toBe('other');
  });
});

describe('AgentHttpServer threats', () => {
  it('refuses a request head over the limit with 431, before any handler', async () => {
    const { server } = await serve();
    const status = await rawStatus(
      server.address(),
      `GET /metrics HTTP/1.1\r\nHost: x\r\nX-Junk: ${'a'.repeat(MAX_REQUEST_HEAD_BYTES)}\r\n\r\n`,
    );
    expect(status).toBe(431);
  });

  it('answers a write with 405 without reading its body', async () => {
    const { server } = await serve();
    // a 64 MiB body is announced but never sent: the answer comes at once all the same
    const status = await rawStatus(
      server.address(),
      'POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 67108864\r\nContent-Type: text/plain\r\n\r\n',
    );
    expect(status).toBe(405);
  });

  it('keeps answering /healthz under 300 idle connections and 300 concurrent requests', async () => {
    const { server, get } = await serve();
    const [host, port] = [server.address().split(':')[0]!, Number(server.address().split(':')[1])];
    const idle: Socket[] = [];
    await Promise.all(
      Array.from(
        { length: 300 },
        () =>
          new Promise<void>((resolve, reject) => {
            const s = connect(port, host, () => {
              s.write('GET /metr'); // half a request line, never finished
              resolve();
            });
            s.on('error', reject);
            idle.push(s);
          }),
      ),
    );
    try {
      const answers = await Promise.all(Array.from({ length: 300 }, () => get('/metrics')));
      expect(answers.every((a) => a.status === 200)).toBe(true);
      expect(await get('/healthz')).toMatchObject({ status: 200, body: 'ok\n' });
    } finally {
      for (const s of idle) s.destroy();
    }
  });
});

/** Sends raw bytes and reads the status code of the first response line. */
function rawStatus(address: string, request: string): Promise<number> {
  const [host, port] = [address.split(':')[0]!, Number(address.split(':')[1])];
  return new Promise((resolve, reject) => {
    const s = connect(port, host, () => s.write(request));
    let text = '';
    s.on('data', (d: Buffer) => {
      text += d.toString('latin1');
      const m = /^HTTP\/1\.1 (\d{3})/.exec(text);
      if (m) {
        s.destroy();
        resolve(Number(m[1]));
      }
    });
    s.on('error', reject);
    s.on('close', () => reject(new Error(`closed without an answer: ${JSON.stringify(text.slice(0, 100))}`)));
  });
}
