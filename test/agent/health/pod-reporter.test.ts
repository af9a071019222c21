import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeviceHealthBoard } from '../../../agent/health/board.js';
import { PodHealthReporter } from '../../../agent/health/pod-reporter.js';
import { CONDITION_DEVICES_HEALTHY } from '../../../src/contract/names.js';
import { KubeClient } from '../../../src/kube/client.js';
import { loadKubeConfig } from '../../../src/kube/config.js';
import type { Pod } from '../../../src/kube/types.js';
import { type ApiServer, startApiServer } from '../../cluster/apiserver/index.js';
import { waitFor } from './support.js';

const NODE = 'gpu-node-1';
let api: ApiServer;
let client: KubeClient;

beforeAll(async () => {
  api = await startApiServer({ namespaces: ['team'] });
  client = new KubeClient(loadKubeConfig({ kubeconfig: api.kubeconfigPath }));
  api.store.create('nodes', { apiVersion: 'v1', kind: 'Node', metadata: { name: NODE } });
});
afterAll(async () => {
  await api.stop();
});

/** A claim allocated on this node (devices of our driver and pool) and a running pod holding it. */
function podWithClaim(pod: string, devices: string[], extra: { driver?: string; pool?: string } = {}): void {
  const claim = api.store.create(
    'resourceclaims',
    {
      apiVersion: 'resource.k8s.io/v1',
      kind: 'ResourceClaim',
      metadata: { name: `${pod}-gpus`, namespace: 'team' },
      spec: {
        devices: {
          requests: [{ name: 'gpus', exactly: { deviceClassName: 'gpu.lockstep.dev', count: devices.length } }],
        },
      },
    },
    { namespace: 'team' },
  );
  api.store.updateStatus(
    'resourceclaims',
    {
      ...claim,
      status: {
        allocation: {
          devices: {
            results: devices.map((device) => ({
              request: 'gpus',
              driver: extra.driver ?? 'lockstep.dev',
              pool: extra.pool ?? NODE,
              device,
            })),
          },
        },
      },
    } as typeof claim,
    { namespace: 'team' },
  );
  api.store.create(
    'pods',
    {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: pod, namespace: 'team' },
      spec: {
        nodeName: NODE,
        containers: [{ name: 'main', image: 'vllm' }],
        resourceClaims: [{ name: 'gpus', resourceClaimName: `${pod}-gpus` }],
      },
    },
    { namespace: 'team' },
  );
}

const condition = (pod: string) =>
  ((api.store.find('pods', pod, 'team') as Pod | undefined)?.status?.conditions ?? []).find(
    (c) => c.type === CONDITION_DEVICES_HEALTHY,
  );

interface EventObject {
  reason: string;
  type: string;
  message: string;
  involvedObject: { kind: string; name: string; uid?: string };
}
const events = (ns: string) => api.store.list('events', { namespace: ns }) as unknown as EventObject[];

describe('PodHealthReporter against the API server double', () => {
  it('sets DevicesHealthy=False with reason and message, and Warning Events on the pod and the Node', async () => {
    podWithClaim('worker-0', ['gpu-4', 'gpu-5']);
    podWithClaim('worker-1', ['gpu-6']);
    podWithClaim('other-driver', ['gpu-4'], { driver: 'gpu.nvidia.com' });
    const board = new DeviceHealthBoard();
    for (const d of ['gpu-4', 'gpu-5', 'gpu-6']) board.set(d, { state: 'healthy' });
    const reporter = new PodHealthReporter({ client, board, nodeName: NODE, driverName: 'lockstep.dev' });
    reporter.start();
    await reporter.synced();
    await waitFor(() => reporter.devicesOf('team/worker-0').length === 2, 'claims resolved');
    await reporter.idle();
    // healthy pods say so once (True), so group views read Healthy, not Unknown
    await waitFor(() => condition('worker-0')?.status === 'True', 'the first True condition');
    expect(condition('worker-0')).toMatchObject({ reason: 'DevicesHealthy', message: 'healthy: gpu-4, gpu-5' });
    expect(events('team').filter((e) => e.involvedObject.name === 'worker-0')).toEqual([]);

    board.set(
      'gpu-4',
      { state: 'unhealthy', reason: 'XID-79-fallen-off-bus', message: 'XID 79 on 0000:9b:00.0' },
      'xid',
    );
    await waitFor(() => condition('worker-0')?.status === 'False', 'the False condition');
    expect(condition('worker-0')).toMatchObject({
      status: 'False',
      reason: 'DeviceUnhealthy',
      message: 'unhealthy: gpu-4: XID-79-fallen-off-bus (XID 79 on 0000:9b:00.0)',
    });
    expect(condition('worker-1')?.status).toBe('True');
    expect(condition('other-driver')).toBeUndefined();
    await waitFor(() => events('team').some((e) => e.involvedObject.name === 'worker-0'), 'the pod event');
    await waitFor(() => events('default').some((e) => e.involvedObject.kind === 'Node'), 'the node event');
    expect(events('team').filter((e) => e.involvedObject.name === 'worker-0')).toEqual([
      expect.objectContaining({
        type: 'Warning',
        reason: 'DeviceUnhealthy',
        involvedObject: expect.objectContaining({ kind: 'Pod' }),
      }),
    ]);
    expect(events('default').find((e) => e.involvedObject.kind === 'Node')).toMatchObject({
      type: 'Warning',
      reason: 'DeviceUnhealthy',
      involvedObject: { kind: 'Node', name: NODE, uid: NODE },
    });

    // recovery: True again, and a Normal event
    board.set('gpu-4', { state: 'healthy' }, 'xid');
    await waitFor(() => condition('worker-0')?.status === 'True', 'the True condition');
    expect(condition('worker-0')).toMatchObject({ reason: 'DevicesHealthy' });
    await waitFor(() => events('team').some((e) => e.reason === 'DevicesRecovered'), 'the recovery event');
    await reporter.stop();
  });

  it('marks a pod that starts on an already unhealthy device, and retries a write the API refused', async () => {
    const board = new DeviceHealthBoard();
    board.set('gpu-7', { state: 'unhealthy', reason: 'row-remap-pending' }, 'nvidia-smi');
    const errors: string[] = [];
    const reporter = new PodHealthReporter({
      client,
      board,
      nodeName: NODE,
      driverName: 'lockstep.dev',
      retryMs: 50,
      onApiError: (verb, resource, status) => errors.push(`${verb} ${resource} ${status}`),
    });
    reporter.start();
    await reporter.synced();
    api.faults.failNext(1, 500, { match: { verbs: ['patch'], resources: ['pods'] } });
    podWithClaim('late-starter', ['gpu-7']);
    await waitFor(() => condition('late-starter')?.status === 'False', 'the condition after a retry');
    expect(errors).toContain('patch pods/status 500');
    expect(condition('late-starter')?.message).toContain('gpu-7: row-remap-pending');
    await reporter.stop();
  });

  it('owns only its condition by server-side apply: the kubelet conditions stay, managedFields names the agent', async () => {
    podWithClaim('shared-status', ['gpu-8']);
    // the kubelet's own conditions, written before the agent speaks
    const live = api.store.find('pods', 'shared-status', 'team');
    if (!live) throw new Error('the pod was not created');
    api.store.updateStatus(
      'pods',
      {
        ...live,
        status: {
          phase: 'Running',
          conditions: [
            { type: 'Ready', status: 'True' },
            { type: 'PodScheduled', status: 'True' },
          ],
        },
      } as typeof live,
      { namespace: 'team' },
    );
    const board = new DeviceHealthBoard();
    board.set('gpu-8', { state: 'healthy' });
    const reporter = new PodHealthReporter({ client, board, nodeName: NODE, driverName: 'lockstep.dev' });
    reporter.start();
    await reporter.synced();
    await waitFor(() => condition('shared-status')?.status === 'True', 'the True condition');
    board.set('gpu-8', { state: 'unhealthy', reason: 'XID-79-fallen-off-bus' }, 'xid');
    await waitFor(() => condition('shared-status')?.status === 'False', 'the False condition');
    await reporter.stop();

    const pod = await client.get<Pod>('/api/v1/namespaces/team/pods/shared-status');
    expect((pod.status?.conditions ?? []).map((c) => `${c.type}=${c.status}`).sort()).toEqual([
      'PodScheduled=True',
      'Ready=True',
      `${CONDITION_DEVICES_HEALTHY}=False`,
    ]);
    const managedFields = (pod.metadata as { managedFields?: { manager?: string }[] }).managedFields ?? [];
    const applied = managedFields.filter((e) => e.manager === 'lockstep-agent');
    expect(applied).toEqual([
      expect.objectContaining({
        operation: 'Apply',
        subresource: 'status',
        fieldsV1: {
          'f:status': {
            'f:conditions': {
              [`k:{"type":"${CONDITION_DEVICES_HEALTHY}"}`]: {
                '.': {},
                'f:type': {},
                'f:status': {},
                'f:reason': {},
                'f:message': {},
                'f:lastTransitionTime': {},
              },
            },
          },
        },
      }),
    ]);
  });
});
