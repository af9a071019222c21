import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONDITION_DEVICES_HEALTHY, TAINT_KEYS } from '../../../src/contract/names.js';
import type { Pod, ResourceSlice } from '../../../src/kube/types.js';
import { type AgentWorld, daemonSetAgentEnv, fetchText, startAgentWorld } from './agent-world.js';
import { waitFor } from './support.js';

const NODE = 'h100-e2e';
const DEVICE = 'gpu-0000-9b-00-0'; // 0000:9b:00.0
let world: AgentWorld;

beforeAll(async () => {
  // with the DaemonSet's NODE_OPTIONS (--jitless among them): the agent as it is shipped
  world = await startAgentWorld({ nodeName: NODE, device: DEVICE, env: await daemonSetAgentEnv() });
}, 120_000);
afterAll(async () => {
  await world?.stop();
});

const slicesDevices = () =>
  world.api.store
    .list('resourceslices')
    .map((s) => s as unknown as ResourceSlice)
    .filter((s) => s.spec.nodeName === NODE)
    .flatMap((s) => s.spec.devices ?? []);
const taintsOf = (device: string) => slicesDevices().find((d) => d.name === device)?.taints ?? [];
const pod = () => world.api.store.get('pods', world.podName, 'default') as unknown as Pod;
const condition = () => pod().status?.conditions?.find((c) => c.type === CONDITION_DEVICES_HEALTHY);
const resourceHealth = () =>
  ((pod().status?.containerStatuses ?? []) as { allocatedResourcesStatus?: { resources?: { health?: string }[] }[] }[])
    .flatMap((cs) => cs.allocatedResourcesStatus ?? [])
    .flatMap((r) => r.resources ?? [])
    .map((r) => r.health);
interface EventObject {
  reason: string;
  type: string;
  involvedObject: { kind: string; name: string };
}
const events = (ns: string) => world.api.store.list('events', { namespace: ns }) as unknown as EventObject[];

describe('device health end to end: the agent process on the simulated 8x H100 node', () => {
  it('an XID 79 for the GPU a running pod holds shows in the slice, the kubelet stream, the pod and /metrics', async () => {
    expect(taintsOf(DEVICE)).toEqual([]);
    expect(world.kubelet.deviceHealth('lockstep.dev', NODE, DEVICE)).toBe('Healthy');
    await world.node.appendKernelLog(
      'NVRM: Xid (PCI:0000:9b:00): 79, pid=0, name=swapper, GPU has fallen off the bus.',
    );

    await waitFor(() => taintsOf(DEVICE).length > 0, 'the slice taint', 10_000);
    expect(taintsOf(DEVICE)).toEqual([
      // the XID class taint: its value is the XID, so a workload can tolerate exactly the XIDs it survives
      expect.objectContaining({ key: TAINT_KEYS.xid, value: '79', effect: 'NoSchedule' }),
    ]);
    expect(slicesDevices().find((d) => d.name === DEVICE)?.attributes?.healthy).toEqual({ bool: false });
    // no other device is tainted: the onboard Broadcom port enp1s0f1, down (uncabled) since the agent first saw it,
    // is no fault; it is published with its link state
    expect(
      slicesDevices()
        .filter((d) => (d.taints ?? []).length > 0)
        .map((d) => d.name)
        .sort(),
    ).toEqual([DEVICE]);
    expect(slicesDevices().find((d) => d.name === 'nic-0000-01-00-1')?.attributes).toMatchObject({
      healthy: { bool: true },
      state: { string: 'down' },
    });

    await waitFor(() => world.kubelet.deviceHealth('lockstep.dev', NODE, DEVICE) === 'Unhealthy', 'the kubelet stream');
    await waitFor(() => resourceHealth().includes('Unhealthy'), 'allocatedResourcesStatus');
    await waitFor(() => condition()?.status === 'False', 'the pod condition');
    expect(condition()).toMatchObject({ reason: 'DeviceUnhealthy' });
    expect(condition()?.message).toContain('gpu-0000-9b-00-0: XID-79-fallen-off-bus');
    await waitFor(
      () => events('default').some((e) => e.involvedObject.kind === 'Pod' && e.reason === 'DeviceUnhealthy'),
      'the pod Event',
    );
    await waitFor(
      () => events('default').some((e) => e.involvedObject.kind === 'Node' && e.type === 'Warning'),
      'the Node Event',
    );
    const metrics = (await fetchText(world.metricsUrl)).text;
    expect(metrics).toContain(
      `lockstep_device_health{device="gpu-0000-9b-00-0",type="gpu",state="unhealthy",node="${NODE}"} 1`,
    );
    expect(metrics).toContain(
      `lockstep_xid_events_total{device="gpu-0000-9b-00-0",xid="79",fault="true",node="${NODE}"} 1`,
    );
  });

  it('clearing the XID (clear-xid file) reports recovery in the same places', async () => {
    await writeFile(join(world.stateDir, 'clear-xid'), 'gpu-0000-9b-00-0\n');
    await waitFor(() => taintsOf(DEVICE).length === 0, 'the taint removed', 10_000);
    await waitFor(() => world.kubelet.deviceHealth('lockstep.dev', NODE, DEVICE) === 'Healthy', 'the stream healthy');
    await waitFor(() => condition()?.status === 'True', 'the pod condition True');
    await waitFor(() => events('default').some((e) => e.reason === 'DevicesRecovered'), 'the recovery Event');
    const metrics = (await fetchText(world.metricsUrl)).text;
    expect(metrics).toContain(
      `lockstep_device_health{device="gpu-0000-9b-00-0",type="gpu",state="healthy",node="${NODE}"} 1`,
    );
  });

  it('an application XID (13) is counted but taints nothing', async () => {
    await world.node.appendKernelLog('NVRM: Xid (PCI:0000:9b:00): 13, pid=42, name=python, Graphics SM Warp Exception');
    await waitFor(
      async () => (await fetchText(world.metricsUrl)).text.includes('xid="13",fault="false"'),
      'the XID 13 counter',
    );
    expect(slicesDevices().filter((d) => d.name.startsWith('gpu-') && (d.taints ?? []).length > 0)).toEqual([]);
    expect(condition()?.status).toBe('True');
  });
});
