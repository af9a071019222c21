import { createHash } from 'node:crypto';
import { readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { Client, credentials, Metadata, status } from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { MAX_CLAIMS_PER_CALL } from '../../../agent/kubeletplugin/node-service.js';
import {
  type Claim,
  HEALTH_VERSIONS,
  type HealthServiceVersion,
  type NodeWatchResourcesResponse,
  VERSION_HEALTH_V1,
} from '../../../agent/kubeletplugin/protos.js';
import { loadCdiRegistry } from '../../cluster/kubelet/cdi-rules.js';
import { DraClient, RegistrationClient } from '../../cluster/kubelet/plugin-client.js';
import { claimObject } from './fixtures.js';
import { type PluginHarness, startPlugin } from './harness.js';

const UID1 = '11111111-1111-4111-8111-111111111111';
const UID2 = '22222222-2222-4222-8222-222222222222';

let harness: PluginHarness | undefined;
const clients: { close(): void }[] = [];

afterEach(async () => {
  for (const client of clients.splice(0)) client.close();
  await harness?.plugin.stop();
  harness = undefined;
});

function dra(h: PluginHarness, version: 'v1.DRAPlugin' | 'v1beta1.DRAPlugin' = 'v1.DRAPlugin'): DraClient {
  const client = new DraClient(h.plugin.layout.draSocket, version, 10_000);
  clients.push(client);
  return client;
}

function claim(uid: string, name = 'train'): Claim {
  return { namespace: 'default', name, uid };
}

describe('registration', () => {
  it('answers GetInfo as FACTS §1 says and becomes ready once the kubelet registers it', async () => {
    harness = await startPlugin();
    const registration = new RegistrationClient(join(harness.registryDir, 'lockstep.dev-reg.sock'));
    clients.push(registration);
    expect(await registration.getInfo()).toEqual({
      type: 'DRAPlugin',
      name: 'lockstep.dev',
      endpoint: join(harness.pluginDir, 'dra.sock'),
      supportedVersions: [
        'v1.DRAPlugin',
        'v1beta1.DRAPlugin',
        'v1.DRAResourceHealth',
        'v1beta1.DRAResourceHealth',
        'v1alpha1.DRAResourceHealth',
      ],
    });
    expect(harness.plugin.readiness()).toEqual({
      ready: false,
      live: true,
      reason: 'waiting for the kubelet to register the plugin',
    });
    await registration.notify({ pluginRegistered: true, error: '' });
    expect(harness.plugin.readiness().ready).toBe(true);
    await registration.notify({ pluginRegistered: false, error: 'endpoint already registered' });
    expect(harness.plugin.readiness()).toEqual({
      ready: false,
      live: true,
      reason: 'kubelet refused the registration: endpoint already registered',
    });
  });

  it('shows a hostile registration error cleaned and capped, not 100 KB of escapes', async () => {
    harness = await startPlugin();
    const registration = new RegistrationClient(join(harness.registryDir, 'lockstep.dev-reg.sock'));
    clients.push(registration);
    await registration.notify({
      pluginRegistered: false,
      error: `\u001b[2J\u001b]0;pwned\u0007${'x'.repeat(100 * 1024)}`,
    });
    const reason = harness.plugin.readiness().reason ?? '';
    expect(reason).not.toContain('\u001b');
    expect(reason).toMatch(/^kubelet refused the registration: \?\[2J\?\]0;pwned\?x+…\(\+\d+ chars\)$/);
    expect(reason.length).toBeLessThan(1200);
  });

  it('sockets are not world-writable', async () => {
    harness = await startPlugin();
    for (const path of [harness.plugin.layout.registrationSocket, harness.plugin.layout.draSocket]) {
      const info = await stat(path);
      expect(info.isSocket()).toBe(true);
      expect(info.mode & 0o002).toBe(0);
    }
  });

  it('rolling update: two instances with pod UIDs overlap; the newer removes only dead sockets', async () => {
    harness = await startPlugin({ podUid: 'pod-a' });
    // A dead socket of a crashed third instance: bound once, then its process is gone.
    const dead = join(harness.registryDir, 'lockstep.dev-pod-c-reg.sock');
    await new Promise<void>((resolve) => {
      const server = createServer().listen(dead, () => {
        // Close without unlinking, as a SIGKILLed process leaves it.
        (server as unknown as { _handle: { close(): void } })._handle.close();
        resolve();
      });
    });
    const second = await startPlugin({ podUid: 'pod-b' }, harness.dir);
    try {
      const names = (await readdir(harness.registryDir)).sort();
      expect(names).toEqual(['lockstep.dev-pod-a-reg.sock', 'lockstep.dev-pod-b-reg.sock']);
      expect((await readdir(harness.pluginDir)).filter((name) => name.endsWith('.sock')).sort()).toEqual([
        'dra-pod-a.sock',
        'dra-pod-b.sock',
      ]);
      const info = await new RegistrationClient(join(harness.registryDir, 'lockstep.dev-pod-b-reg.sock')).getInfo();
      expect(info.endpoint).toBe(join(harness.pluginDir, 'dra-pod-b.sock'));
    } finally {
      await second.plugin.stop();
    }
  });

  it('serves the standard gRPC health service', async () => {
    harness = await startPlugin();
    const client = new Client(`unix:${harness.plugin.layout.draSocket}`, credentials.createInsecure());
    clients.push(client);
    const response = await new Promise<Buffer>((resolve, reject) =>
      client.makeUnaryRequest(
        '/grpc.health.v1.Health/Check',
        (value: Buffer) => value,
        (value: Buffer) => value,
        Buffer.alloc(0),
        new Metadata(),
        {},
        (error, value) => (error || !value ? reject(error) : resolve(value)),
      ),
    );
    // HealthCheckResponse{status: SERVING(1)} = field 1 varint 1
    expect([...response]).toEqual([0x08, 0x01]);
  });
});

describe('node service', () => {
  it('prepares, writes a valid CDI spec, records it, and answers repeats identically', async () => {
    harness = await startPlugin();
    harness.claims.put(
      claimObject({
        name: 'train',
        uid: UID1,
        results: [
          { request: 'gpus', device: 'gpu-0' },
          { request: 'gpus', device: 'gpu-1' },
          { request: 'nic', device: 'nic-0000-1a-00-0' },
        ],
      }),
    );
    const client = dra(harness);
    const first = await client.prepare([claim(UID1)]);
    expect(first.claims[UID1]?.error).toBe('');
    expect(
      first.claims[UID1]?.devices.map((device) => [
        device.poolName,
        device.deviceName,
        device.requestNames,
        device.cdiDeviceIds,
      ]),
    ).toEqual([
      ['gpu-node-1', 'gpu-0', ['gpus'], [`k8s.lockstep.dev/claim=${UID1}-gpu-0`]],
      ['gpu-node-1', 'gpu-1', ['gpus'], [`k8s.lockstep.dev/claim=${UID1}-gpu-1`]],
      ['gpu-node-1', 'nic-0000-1a-00-0', ['nic'], [`k8s.lockstep.dev/claim=${UID1}-nic-0000-1a-00-0`]],
    ]);
    const registry = await loadCdiRegistry([harness.cdiDir]);
    expect(registry.problems).toEqual([]);
    expect([...registry.devices.keys()].sort()).toEqual(
      first.claims[UID1]?.devices.flatMap((device) => device.cdiDeviceIds).sort(),
    );
    const checkpoint = JSON.parse(await readFile(join(harness.pluginDir, 'checkpoint.json'), 'utf8'));
    expect(Object.keys(checkpoint.claims)).toEqual([UID1]);

    // The kubelet may call again (restart): same answer, no new API read.
    const reads = harness.claims.reads;
    const again = await client.prepare([claim(UID1)]);
    expect(again).toEqual(first);
    expect(harness.claims.reads).toBe(reads);
  });

  it('v1beta1 gives the same answers as v1 (without shareId)', async () => {
    harness = await startPlugin();
    harness.claims.put(
      claimObject({ name: 'a', uid: UID1, results: [{ request: 'g', device: 'gpu-2', shareID: 'share-1' }] }),
    );
    harness.claims.put(claimObject({ name: 'b', uid: UID2, results: [{ request: 'g', device: 'gpu-9' }] }));
    const v1 = await dra(harness, 'v1.DRAPlugin').prepare([claim(UID1, 'a'), claim(UID2, 'b')]);
    const beta = await dra(harness, 'v1beta1.DRAPlugin').prepare([claim(UID1, 'a'), claim(UID2, 'b')]);
    expect(v1.claims[UID1]?.devices[0]?.shareId).toBe('share-1');
    const strip = (response: typeof v1) =>
      JSON.parse(JSON.stringify(response, (key, value) => (key === 'shareId' ? undefined : value)));
    expect(beta).toEqual(strip(v1));
    expect(beta.claims[UID2]?.error).toMatch(/device gpu-9 of ResourceClaim default\/b is not on node gpu-node-1/);
    const betaUnprepare = await dra(harness, 'v1beta1.DRAPlugin').unprepare([claim(UID1, 'a'), claim(UID2, 'b')]);
    expect(betaUnprepare).toEqual({ claims: { [UID1]: { error: '' }, [UID2]: { error: '' } } });
  });

  it('per-claim errors: not found, UID mismatch, unhealthy device; other claims of the call still succeed', async () => {
    harness = await startPlugin();
    harness.claims.put(claimObject({ name: 'ok', uid: UID1, results: [{ request: 'g', device: 'gpu-3' }] }));
    harness.claims.put(claimObject({ name: 'recreated', uid: 'new-uid', results: [] }));
    harness.claims.put(claimObject({ name: 'sick', uid: 'sick-uid', results: [{ request: 'g', device: 'gpu-7' }] }));
    harness.board.set('gpu-7', { state: 'unhealthy', reason: 'XID 79' }, 'xid');
    const response = await dra(harness).prepare([
      claim(UID1, 'ok'),
      claim('gone-uid', 'gone'),
      claim('old-uid', 'recreated'),
      claim('sick-uid', 'sick'),
    ]);
    expect(response.claims[UID1]?.error).toBe('');
    expect(response.claims['gone-uid']).toEqual({
      devices: [],
      error:
        'ResourceClaim default/gone not found in the API: it was deleted; delete the pod so that it gets a new claim',
    });
    expect(response.claims['old-uid']?.error).toMatch(
      /has UID new-uid in the API but the kubelet asked for UID old-uid/,
    );
    expect(response.claims['sick-uid']?.error).toMatch(/device gpu-7 .* is unhealthy \(XID 79\)/);
    expect((await readdir(harness.cdiDir)).sort()).toEqual([`k8s.lockstep.dev-claim_${UID1}.json`]);
  });

  it('an unreachable API is a per-claim error the kubelet retries, and nothing is written', async () => {
    harness = await startPlugin();
    harness.claims.failing = true;
    const response = await dra(harness).prepare([claim(UID1)]);
    expect(response.claims[UID1]?.error).toMatch(
      /cannot read ResourceClaim default\/train from the API: connect ECONNREFUSED.*the kubelet will retry/,
    );
    expect(await readdir(harness.cdiDir)).toEqual([]);
  });

  it('malformed requests: empty list, empty and hostile UIDs, huge lists', async () => {
    harness = await startPlugin();
    const client = dra(harness);
    expect(await client.prepare([])).toEqual({ claims: {} });
    expect(await client.unprepare([])).toEqual({ claims: {} });
    const odd = await client.prepare([
      { namespace: 'default', name: 'x', uid: '' },
      { namespace: 'default', name: 'x', uid: '../../../etc/cron.d/x' },
    ]);
    expect(odd.claims['']?.error).toMatch(/has no UID/);
    expect(odd.claims['../../../etc/cron.d/x']?.error).toMatch(/malformed UID/);
    const oddUnprepare = await client.unprepare([{ namespace: 'default', name: 'x', uid: '../x' }]);
    expect(oddUnprepare.claims['../x']?.error).toMatch(/malformed UID/);

    const huge = Array.from({ length: MAX_CLAIMS_PER_CALL + 1 }, (_, i) => claim(`uid-${i}`, `c${i}`));
    await expect(client.prepare(huge)).rejects.toMatchObject({
      code: status.INVALID_ARGUMENT,
      details: `request has ${MAX_CLAIMS_PER_CALL + 1} claims; at most ${MAX_CLAIMS_PER_CALL} per call`,
    });
    await expect(client.unprepare(huge)).rejects.toMatchObject({ code: status.INVALID_ARGUMENT });

    // A full-size list of unknown claims: every claim gets its own answer.
    const many = Array.from({ length: MAX_CLAIMS_PER_CALL }, (_, i) => claim(`uid-${i}`, `c${i}`));
    const answer = await client.prepare(many);
    expect(Object.keys(answer.claims)).toHaveLength(MAX_CLAIMS_PER_CALL);
    expect(Object.values(answer.claims).every((entry) => /not found in the API/.test(entry.error))).toBe(true);
  });

  it('undecodable bytes fail that call only; the service keeps answering', async () => {
    harness = await startPlugin();
    const raw = new Client(`unix:${harness.plugin.layout.draSocket}`, credentials.createInsecure());
    clients.push(raw);
    const garbage = Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01]);
    const failure = await new Promise<{ code?: number }>((resolve) =>
      raw.makeUnaryRequest(
        '/k8s.io.kubelet.pkg.apis.dra.v1.DRAPlugin/NodePrepareResources',
        (value: Buffer) => value,
        (value: Buffer) => value,
        garbage,
        new Metadata(),
        {},
        (error) => resolve(error ?? {}),
      ),
    );
    expect(failure.code).toBe(status.INTERNAL);
    expect(await dra(harness).prepare([])).toEqual({ claims: {} });
  });

  it('unprepare removes exactly what prepare made and succeeds for claims it never saw', async () => {
    harness = await startPlugin();
    await writeFile(join(harness.cdiDir, 'someone-else.json'), '{}');
    harness.claims.put(claimObject({ name: 'a', uid: UID1, results: [{ request: 'g', device: 'gpu-0' }] }));
    harness.claims.put(claimObject({ name: 'b', uid: UID2, results: [{ request: 'g', device: 'gpu-1' }] }));
    const client = dra(harness);
    await client.prepare([claim(UID1, 'a'), claim(UID2, 'b')]);
    const response = await client.unprepare([claim(UID1, 'a'), claim('never-seen', 'z')]);
    expect(response).toEqual({ claims: { [UID1]: { error: '' }, 'never-seen': { error: '' } } });
    expect((await readdir(harness.cdiDir)).sort()).toEqual([
      `k8s.lockstep.dev-claim_${UID2}.json`,
      'someone-else.json',
    ]);
    expect(
      harness.plugin
        .claims()
        .prepared()
        .map((entry) => entry.uid),
    ).toEqual([UID2]);
    // Twice is fine.
    expect(await client.unprepare([claim(UID1, 'a')])).toEqual({ claims: { [UID1]: { error: '' } } });
  });
});

describe('health stream', () => {
  function watch(
    h: PluginHarness,
    version: HealthServiceVersion = VERSION_HEALTH_V1,
  ): ReturnType<DraClient['watchHealth']> {
    const stream = dra(h).watchHealth(version);
    // cancel() ends the call with CANCELLED: expected here.
    stream.on('error', () => undefined);
    return stream;
  }

  function nextMessage(stream: ReturnType<DraClient['watchHealth']>): Promise<NodeWatchResourcesResponse> {
    return new Promise((resolve, reject) => {
      stream.once('data', resolve);
      stream.once('error', reject);
    });
  }

  it('sends the complete list on connect and on every change, to several kubelet connections', async () => {
    harness = await startPlugin({ healthTimeoutSeconds: 45 });
    const a = watch(harness);
    const b = watch(harness);
    const [firstA, firstB] = await Promise.all([nextMessage(a), nextMessage(b)]);
    expect(firstA.devices).toHaveLength(16);
    expect(firstB).toEqual(firstA);
    expect(firstA.devices.find((device) => device.device.deviceName === 'gpu-0')).toMatchObject({
      device: { poolName: 'gpu-node-1', deviceName: 'gpu-0' },
      health: 'HEALTHY',
      healthCheckTimeoutSeconds: 45,
    });
    const changedA = nextMessage(a);
    const changedB = nextMessage(b);
    harness.board.set(
      'gpu-5',
      { state: 'unhealthy', reason: 'xid-119', message: 'XID 119: GSP RPC timeout (action: reset)' },
      'xid',
    );
    for (const message of await Promise.all([changedA, changedB])) {
      expect(message.devices).toHaveLength(16);
      const gpu5 = message.devices.find((device) => device.device.deviceName === 'gpu-5');
      // the fault in words, not the short taint reason
      expect(gpu5).toMatchObject({ health: 'UNHEALTHY', message: 'XID 119: GSP RPC timeout (action: reset)' });
      expect(gpu5?.lastUpdatedTime).toBe(Math.floor((harness.board.get('gpu-5')?.since ?? 0) / 1000));
    }
    a.cancel();
    b.cancel();
  });

  it('serves one stream in every health package (v1, v1beta1, v1alpha1): same lists, same changes', async () => {
    harness = await startPlugin({ healthTimeoutSeconds: 45 });
    const streams = HEALTH_VERSIONS.map((version) => watch(harness as PluginHarness, version));
    const first = await Promise.all(streams.map(nextMessage));
    for (const message of first) expect(message).toEqual(first[0]);
    expect(first[0]?.devices).toHaveLength(16);
    expect(harness.plugin.healthConnections()).toBe(3);
    const changed = Promise.all(streams.map(nextMessage));
    harness.board.set('gpu-2', { state: 'unhealthy', reason: 'xid-79', message: 'XID 79: GPU has fallen off the bus' });
    for (const message of await changed) {
      expect(message.devices.find((device) => device.device.deviceName === 'gpu-2')).toMatchObject({
        health: 'UNHEALTHY',
        message: 'XID 79: GPU has fallen off the bus',
        healthCheckTimeoutSeconds: 45,
      });
    }
    for (const stream of streams) stream.cancel();
  });

  it('resends periodically so the kubelet never times devices out', async () => {
    harness = await startPlugin({ healthResendMs: 50 });
    const stream = watch(harness);
    await nextMessage(stream);
    const again = await nextMessage(stream);
    expect(again.devices).toHaveLength(16);
    stream.cancel();
  });

  it('a reader that never reads does not hold up prepare or other readers', async () => {
    harness = await startPlugin({ healthResendMs: 5 });
    // A raw HTTP/2 stream that is never read: flow control fills, writes return false.
    const stalled = watch(harness);
    stalled.pause();
    for (let i = 0; i < 200; i++)
      harness.board.set('gpu-1', { state: i % 2 ? 'unhealthy' : 'healthy', reason: `r${i}` });
    const live = watch(harness);
    const message = await nextMessage(live);
    expect(message.devices).toHaveLength(16);
    harness.claims.put(claimObject({ name: 'a', uid: UID1, results: [{ request: 'g', device: 'gpu-0' }] }));
    expect((await dra(harness).prepare([claim(UID1, 'a')])).claims[UID1]?.error).toBe('');
    expect(harness.plugin.healthConnections()).toBe(2);
    stalled.cancel();
    live.cancel();
  });
});

describe('reconcile on start', () => {
  async function restart(h: PluginHarness): Promise<PluginHarness> {
    await h.plugin.stop();
    return startPlugin({ claims: h.claims, board: h.board }, h.dir);
  }

  it('a damaged checkpoint is rebuilt from the CDI specs and the API; running claims keep their specs', async () => {
    harness = await startPlugin();
    harness.claims.put(claimObject({ name: 'a', uid: UID1, results: [{ request: 'g', device: 'gpu-0' }] }));
    const first = await dra(harness).prepare([claim(UID1, 'a')]);
    for (const client of clients.splice(0)) client.close();
    await writeFile(join(harness.pluginDir, 'checkpoint.json'), '{"version":1,"claims":{');
    harness = await restart(harness);
    expect(harness.plugin.reconcileReport()).toMatchObject({
      checkpoint: 'corrupt',
      orphanSpecsAdopted: [`k8s.lockstep.dev-claim_${UID1}.json`],
      orphanSpecsRemoved: [],
    });
    expect(await dra(harness).prepare([claim(UID1, 'a')])).toEqual(first);
    expect((await readdir(harness.pluginDir)).some((name) => name.startsWith('checkpoint.json.corrupt-'))).toBe(true);
  });

  it('after an upgrade from a version-1 agent its checkpoint is migrated: its claims stay prepared, nothing orphaned', async () => {
    harness = await startPlugin();
    harness.claims.put(claimObject({ name: 'a', uid: UID1, results: [{ request: 'g', device: 'gpu-0' }] }));
    const first = await dra(harness).prepare([claim(UID1, 'a')]);
    for (const client of clients.splice(0)) client.close();
    // the same record as the version-1 agent wrote it (see checkpoint-v1.json): snake_case devices, its checksum
    const path = join(harness.pluginDir, 'checkpoint.json');
    const { checksum: _, ...current } = JSON.parse(await readFile(path, 'utf8'));
    const snake: Record<string, string> = {
      requestNames: 'request_names',
      poolName: 'pool_name',
      deviceName: 'device_name',
      cdiDeviceIds: 'cdi_device_ids',
    };
    const v1 = {
      ...current,
      version: 1,
      claims: Object.fromEntries(
        Object.entries(current.claims as Record<string, { devices: Record<string, unknown>[] }>).map(([uid, e]) => [
          uid,
          { ...e, devices: e.devices.map((d) => Object.fromEntries(Object.entries(d).map(([k, v]) => [snake[k], v]))) },
        ]),
      ),
    };
    const v1Checksum = createHash('sha256').update(JSON.stringify(v1)).digest('hex');
    await writeFile(path, `${JSON.stringify({ ...v1, checksum: v1Checksum }, null, 2)}\n`);
    harness = await restart(harness);
    expect(harness.plugin.reconcileReport()).toMatchObject({
      checkpoint: 'loaded',
      orphanSpecsAdopted: [],
      orphanSpecsRemoved: [],
      claimsDropped: [],
      specsRewritten: [],
    });
    expect(JSON.parse(await readFile(path, 'utf8'))).toMatchObject({ version: 2 });
    expect(await dra(harness).prepare([claim(UID1, 'a')])).toEqual(first);
  });

  it('an orphan spec of a deleted claim is removed; with the API down it is kept', async () => {
    harness = await startPlugin();
    harness.claims.put(claimObject({ name: 'a', uid: UID1, results: [{ request: 'g', device: 'gpu-0' }] }));
    harness.claims.put(claimObject({ name: 'b', uid: UID2, results: [{ request: 'g', device: 'gpu-1' }] }));
    await dra(harness).prepare([claim(UID1, 'a'), claim(UID2, 'b')]);
    for (const client of clients.splice(0)) client.close();
    await rm(join(harness.pluginDir, 'checkpoint.json'));
    harness.claims.delete('default', 'a');
    harness.claims.failing = true;
    harness = await restart(harness);
    expect(harness.plugin.reconcileReport()).toMatchObject({
      checkpoint: 'missing',
      orphanSpecsKept: [`k8s.lockstep.dev-claim_${UID1}.json`, `k8s.lockstep.dev-claim_${UID2}.json`].sort(),
    });
    harness.claims.failing = false;
    harness = await restart(harness);
    expect(harness.plugin.reconcileReport()).toMatchObject({
      orphanSpecsRemoved: [`k8s.lockstep.dev-claim_${UID1}.json`],
      orphanSpecsAdopted: [`k8s.lockstep.dev-claim_${UID2}.json`],
    });
    expect(await readdir(harness.cdiDir)).toEqual([`k8s.lockstep.dev-claim_${UID2}.json`]);
  });

  it('a claim with no device of this driver is prepared without a spec file (CDI rejects empty specs)', async () => {
    harness = await startPlugin();
    harness.claims.put(
      claimObject({ name: 'net', uid: UID1, results: [{ request: 'n', device: 'eth0', driver: 'dra.net' }] }),
    );
    expect(await dra(harness).prepare([claim(UID1, 'net')])).toEqual({
      claims: { [UID1]: { devices: [], error: '' } },
    });
    expect(await readdir(harness.cdiDir)).toEqual([]);
    expect(await dra(harness).unprepare([claim(UID1, 'net')])).toEqual({ claims: { [UID1]: { error: '' } } });
  });
});
