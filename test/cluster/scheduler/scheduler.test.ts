import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scanInventory } from '../../../agent/discovery/scan.js';
import { DeviceHealthBoard } from '../../../agent/health/board.js';
import { SlicePublisher } from '../../../agent/slices/publisher.js';
import { KubeClient } from '../../../src/kube/client.js';
import { loadKubeConfig } from '../../../src/kube/config.js';
import type { Pod, ResourceClaim, ResourceSlice } from '../../../src/kube/types.js';
import { waitFor } from '../../kube/wait.js';
import { REPO_ROOT } from '../../support/paths.js';
import { type ApiServer, startApiServer } from '../apiserver/index.js';
import { buildSimulatedNode } from '../nodes/index.js';
import { POD_CLAIM_NAME_ANNOTATION, SchedulerLite } from './scheduler.js';

let api: ApiServer;
let client: KubeClient;
let scheduler: SchedulerLite;
const publishers: SlicePublisher[] = [];
const board = new DeviceHealthBoard();

const NODES = ['node-a', 'node-b'];
let machineDir = '';

beforeAll(async () => {
  api = await startApiServer({ featureGates: { DRADeviceTaints: true }, bookmarkIntervalMs: 500 });
  client = new KubeClient(loadKubeConfig({ kubeconfig: api.kubeconfigPath }));
  api.store.apply(readFileSync(join(REPO_ROOT, 'deploy/base/deviceclasses.yaml'), 'utf8'));
  for (const f of ['gpu-nic-same-switch.yaml', 'eight-gpus-eight-nics.yaml']) {
    const text = readFileSync(join(REPO_ROOT, 'deploy/examples/claims', f), 'utf8').replace(
      'metadata:\n',
      'metadata:\n  namespace: default\n',
    );
    api.store.apply(text);
  }
  // the recorded 8x H100 HGX machine, scanned by the real discovery, on both nodes
  machineDir = await mkdtemp(join(tmpdir(), 'sched-node-'));
  const machine = await buildSimulatedNode('h100-hgx', machineDir, {
    nodeName: 'template',
  });
  const recorded = await scanInventory({
    sysfsRoot: machine.sysfsRoot,
    devRoot: machine.devRoot,
    nvidiaSmi: machine.nvidiaSmiPath,
    nvidiaSmiTimeoutMs: 10_000,
    nodeName: 'template',
  });
  for (const name of NODES) {
    api.store.create('nodes', { metadata: { name, labels: { 'kubernetes.io/hostname': name } } });
    const p = new SlicePublisher({
      client,
      driver: 'lockstep.dev',
      nodeName: name,
      backoff: { initialMs: 20, maxMs: 200 },
    });
    if (name === 'node-b') p.attachBoard(board);
    p.setInventory({ ...structuredClone(recorded), node: name });
    await p.start();
    await p.whenConverged();
    publishers.push(p);
  }
  scheduler = new SchedulerLite({ client });
  await scheduler.start();
});

afterAll(async () => {
  await scheduler?.stop();
  await Promise.all(publishers.map((p) => p.stop()));
  client?.close();
  await api?.stop();
  if (machineDir) await rm(machineDir, { recursive: true, force: true });
});

function pod(name: string, template: string): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'default' },
    spec: {
      containers: [{ name: 'main', image: 'busybox', resources: { claims: [{ name: 'devices' }] } }],
      resourceClaims: [{ name: 'devices', resourceClaimTemplateName: template }],
    },
  };
}

const getPod = (name: string) => api.store.find('pods', name, 'default') as Pod | undefined;
const boundPod = (name: string): Pod | undefined => {
  const p = getPod(name);
  return p?.spec.nodeName ? p : undefined;
};
const claimsOf = (p: Pod) =>
  (api.store.list('resourceclaims', { namespace: 'default' }) as unknown as ResourceClaim[]).filter((c) =>
    c.metadata.ownerReferences?.some((o) => o.uid === p.metadata.uid),
  );
const deviceAttr = (node: string, device: string, attr: string) =>
  (api.store.list('resourceslices') as unknown as ResourceSlice[])
    .filter((s) => s.spec.nodeName === node)
    .flatMap((s) => s.spec.devices ?? [])
    .find((d) => d.name === device)?.attributes?.[attr]?.string;

describe('scheduler-lite against the API server', () => {
  it('creates the claim from the template, allocates a GPU and NIC on one switch, reserves and binds', async () => {
    api.store.create('pods', pod('pair', 'gpu-nic-same-switch'));
    const bound = await waitFor(() => boundPod('pair'), 'pair bound');
    expect(bound.spec.nodeName).toBe('node-a');
    const [claim] = claimsOf(bound);
    expect(claim!.metadata.annotations?.[POD_CLAIM_NAME_ANNOTATION]).toBe('devices');
    expect(bound.status?.resourceClaimStatuses).toEqual([{ name: 'devices', resourceClaimName: claim!.metadata.name }]);
    const results = claim!.status!.allocation!.devices!.results!;
    expect(results.map((r) => [r.request, r.device])).toEqual([
      ['gpu', 'gpu-0000-19-00-0'],
      ['nic', 'nic-0000-1a-00-0'],
    ]);
    expect(deviceAttr('node-a', 'gpu-0000-19-00-0', 'pcieSwitch')).toBe(
      deviceAttr('node-a', 'nic-0000-1a-00-0', 'pcieSwitch'),
    );
    expect(claim!.status!.allocation!.nodeSelector).toEqual({
      nodeSelectorTerms: [{ matchFields: [{ key: 'metadata.name', operator: 'In', values: ['node-a'] }] }],
    });
    expect(claim!.status!.reservedFor).toEqual([{ resource: 'pods', name: 'pair', uid: bound.metadata.uid }]);
  });

  it('puts 8 GPU/NIC pairs on the node that still has them all, each pair on one pcieRoot', async () => {
    api.store.create('pods', pod('eight', 'eight-gpus-eight-nics'));
    const bound = await waitFor(() => boundPod('eight'), 'eight bound');
    expect(bound.spec.nodeName).toBe('node-b');
    const results = claimsOf(bound)[0]!.status!.allocation!.devices!.results!;
    expect(results).toHaveLength(16);
    for (let i = 0; i < 8; i++) {
      const gpu = results.find((r) => r.request === `gpu-${i}`)!.device;
      const nic = results.find((r) => r.request === `nic-${i}`)!.device;
      const root = 'resource.kubernetes.io/pcieRoot';
      expect(deviceAttr('node-b', nic, root)).toBe(deviceAttr('node-b', gpu, root));
    }
  });

  it('leaves an unsatisfiable pod pending with an Event, and places it once devices free up', async () => {
    api.store.create('pods', pod('waiting', 'eight-gpus-eight-nics'));
    const event = await waitFor(
      () =>
        (
          api.store.list('events', { namespace: 'default' }) as unknown as {
            involvedObject: { name: string };
            reason: string;
            message: string;
          }[]
        ).find((e) => e.involvedObject.name === 'waiting' && e.reason === 'FailedScheduling'),
      'FailedScheduling event',
    );
    expect(event.message).toMatch(/node-b: claim .*: request gpu-\d: needs 1, 0 free devices match/);
    expect(getPod('waiting')!.spec.nodeName).toBeUndefined();

    const eight = getPod('eight')!;
    // No kubelet runs here to finish a graceful deletion: delete at once, as `kubectl delete --force` does.
    api.store.delete('pods', 'eight', 'default', { gracePeriodSeconds: 0 });
    await waitFor(() => claimsOf(eight).length === 0, 'the deleted pod’s claim removed');
    const bound = await waitFor(() => getPod('waiting')?.spec.nodeName, 'waiting bound');
    expect(bound).toBe('node-b');
  });

  it('does not give out a device published unhealthy and tainted', async () => {
    // node-b is full again; free it, then make its gpu-0000-19-00-0 unhealthy before a new pair comes
    api.store.delete('pods', 'waiting', 'default', { gracePeriodSeconds: 0 });
    board.set('gpu-0000-19-00-0', { state: 'unhealthy', reason: 'XID 79' });
    await waitFor(
      () =>
        deviceAttr('node-b', 'gpu-0000-19-00-0', 'type') &&
        (api.store.list('resourceslices') as unknown as ResourceSlice[])
          .find((s) => s.spec.nodeName === 'node-b')
          ?.spec.devices?.find((d) => d.name === 'gpu-0000-19-00-0')?.taints?.length,
      'taint',
    );
    api.store.create('pods', {
      ...pod('pair-b', 'gpu-nic-same-switch'),
      spec: { ...pod('pair-b', 'gpu-nic-same-switch').spec, nodeSelector: { 'kubernetes.io/hostname': 'node-b' } },
    });
    const bound = await waitFor(() => boundPod('pair-b'), 'pair-b bound');
    expect(bound.spec.nodeName).toBe('node-b');
    const results = claimsOf(bound)[0]!.status!.allocation!.devices!.results!;
    expect(results[0]!.device).toBe('gpu-0000-3b-00-0');
  });
});
