/**
 * End to end (the story of `npm run demo`, as assertions): two simulated 8x H100 nodes with real `lockstep agent`
 * processes, the StatefulSet example (after `lockstep inject`, applied with the real kubectl) running a real
 * torch.distributed gloo job under `lockstep run`, then an agent restart and a coordinator restart during the run,
 * an XID on a member's GPU, and the workload's deletion — with nothing left behind.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PODS, resourcePath } from '../../src/kube/resources.js';
import type { Pod, ResourceSlice } from '../../src/kube/types.js';
import { POD_INDEX_LABEL, POD_NAME_LABEL } from '../cluster/controllers/index.js';
import { GROUP, NAMESPACE } from './manifests.js';
import { alive, DRIVER, type MemberDevice, Story, until } from './story.js';

const deviceNames = (slices: ResourceSlice[]) =>
  slices.flatMap((s) => ((s.spec as { devices?: { name: string }[] }).devices ?? []).map((d) => d.name)).sort();

const initStatus = (pod: Pod | undefined, name: string) =>
  (
    pod?.status as { initContainerStatuses?: { name: string; restartCount: number; state: Record<string, unknown> }[] }
  )?.initContainerStatuses?.find((c) => c.name === name);

describe('lockstep end to end: a StatefulSet group on two simulated H100 nodes', () => {
  let story: Story;
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'lockstep-e2e-'));
    story = await Story.start(dir, { podLogLevel: 'info' });
    await story.startAgents();
  }, 60_000);

  afterAll(async () => {
    const pids = [...(story?.agents.values() ?? [])].flatMap((a) => a.pids);
    const podPids = story?.workloads.nodes.flatMap((n) => n.runner.allPids()) ?? [];
    await story?.stop();
    // nothing keeps running: agents, and every container's process group
    expect(pids.filter((pid) => alive(pid) || isRunning(pid))).toEqual([]);
    expect(podPids.filter(alive)).toEqual([]);
    if (dir) await rm(dir, { recursive: true, force: true });
  }, 60_000);

  it('each agent publishes its node’s 8 GPUs and registers its DRA plugin with the kubelet', async () => {
    const counts = await story.waitForSlices(60_000);
    expect([...counts.values()]).toEqual([8, 8]);
  }, 70_000);

  it('the injected StatefulSet runs: ordinal pods, DNS names, a formed group all-reducing, GroupReady', async () => {
    const applied = await story.applyWorkload();
    expect(applied).toContain('statefulset.apps/llama-405b created');
    const pods = await story.waitForPodsRunning(90_000);
    expect(pods.map((p) => p.metadata.name)).toEqual([`${GROUP}-0`, `${GROUP}-1`]);
    expect(pods.map((p) => p.metadata.labels?.[POD_INDEX_LABEL])).toEqual(['0', '1']);
    expect(pods.map((p) => p.metadata.labels?.[POD_NAME_LABEL])).toEqual([`${GROUP}-0`, `${GROUP}-1`]);
    const leaderIP = (pods[0]?.status as { podIP?: string } | undefined)?.podIP;
    expect(story.workloads.dns.resolve(`${GROUP}-0.${GROUP}.${NAMESPACE}`)).toEqual([leaderIP]);

    const lines = await story.waitForAllReduce(90_000);
    expect([...lines.values()].map((l) => l.replace(/ step=\d+/, ''))).toEqual([
      'allreduce epoch=1 rank=0/2 sum=3',
      'allreduce epoch=1 rank=1/2 sum=3',
    ]);
    // the engine got the group environment lockstep bootstrap wrote: the leader's pod IP as torch's MASTER_ADDR
    expect(await story.engineLog(pods[0] as Pod)).toMatch(new RegExp(`master=${leaderIP?.replace(/\./g, '\\.')}:\\d+`));
    await story.waitForGroupReady(30_000);
    const table = await story.kubectlLockstep(['group', GROUP, '-n', NAMESPACE]);
    expect(table).toContain(`${GROUP}-1`);
  }, 200_000);

  it('an agent restart loses nothing: same slices (no duplicates), plugin registered again, the job keeps running', async () => {
    const node = ((await story.pod(`${GROUP}-1`))?.spec as { nodeName?: string } | undefined)?.nodeName ?? '';
    const before = await story.slices(node);
    const kubelet = story.workloads.node(node).kubelet;
    const registeredAt = kubelet.pluginList().find((p) => p.driver === DRIVER)?.registeredAt;
    const steps = await story.allReduceSteps();

    await story.agent(node).restart();

    await story.workloads
      .node(node)
      .kubelet.waitFor(
        'the restarted agent’s plugin to register',
        () => kubelet.pluginList().some((p) => p.driver === DRIVER && p.connected && p.registeredAt !== registeredAt),
        30_000,
      );
    const after = await story.slices(node);
    expect(after.length).toBe(before.length);
    expect(deviceNames(after)).toEqual(deviceNames(before));
    await story.waitForProgress(steps, 2, 30_000);
  }, 60_000);

  it('a coordinator restart loses nothing: the sidecar comes back, the same pods re-form the group, the job keeps running', async () => {
    const uids = (await story.groupPods()).map((p) => p.metadata.uid);
    const steps = await story.allReduceSteps();
    await story.killCoordinator();
    const leader = await waitFor(async () => {
      const pod = await story.pod(`${GROUP}-0`);
      const status = initStatus(pod, 'lockstep-coordinator');
      return status && status.restartCount >= 1 && 'running' in status.state ? pod : undefined;
    }, 30_000);
    expect(initStatus(leader, 'lockstep-coordinator')?.restartCount).toBeGreaterThanOrEqual(1);
    await story.waitForProgress(steps, 3, 60_000);
    await story.waitForGroupReady(30_000);
    expect((await story.groupPods()).map((p) => p.metadata.uid)).toEqual(uids);
  }, 120_000);

  let member: MemberDevice;
  let oldUid = '';
  let epochBefore = 0;
  it('an XID 79 on a member’s GPU shows in the slice (taint), on the pod (condition) and on the kubelet health stream', async () => {
    member = await story.memberGpu(`${GROUP}-1`);
    // the container runtime applied the CDI spec of the claimed GPU: the engine sees that GPU only
    expect(member.uuid).toMatch(/^GPU-/);
    expect(await story.engineGpus(member.pod)).toBe(member.uuid);
    oldUid = (await story.pod(member.pod))?.metadata.uid ?? '';
    epochBefore = Math.max(...[...(await story.engineEpochs()).values()].flat());
    await story.injectXid(member, 79);
    const { taint } = await story.waitForDeviceUnhealthy(member, 30_000);
    expect(taint).toMatchObject({ key: 'lockstep.dev/xid', value: '79' });
    expect(await story.waitForDevicesHealthy(member.pod, 'False', 30_000, oldUid)).toContain(member.device);
    expect(await story.waitForKubeletHealth(member, 'Unhealthy', 30_000)).toBe('Unhealthy');
  }, 100_000);

  it('recovery: the coordinator deletes the member’s pod, the controller recreates it, the scheduler avoids the failed GPU', async () => {
    const replaced = await story.waitForPodReplaced(member.pod, oldUid, 60_000);
    expect(replaced.metadata.labels?.[POD_INDEX_LABEL]).toBe('1');
    const now = await until(`${member.pod} to get devices again`, () => story.memberGpu(member.pod), 60_000, 250);
    expect(`${now.node}/${now.device}`).not.toBe(`${member.node}/${member.device}`);
    // the new pod's containers start: its bootstrap joins the group again
    await until(
      `${member.pod}'s bootstrap to join the group again`,
      async () => {
        const pod = await story.pod(member.pod);
        return pod
          ? /joined group llama-405b as rank 1/.test(await story.containerLog(pod, 'lockstep-bootstrap'))
          : false;
      },
      60_000,
      250,
    );
  }, 200_000);

  it('the group forms again in a new epoch and all-reduces, with the same pod names', async () => {
    const pods = await story.waitForPodsRunning(90_000);
    expect(pods.map((p) => p.metadata.name)).toEqual([`${GROUP}-0`, `${GROUP}-1`]);
    const lines = await story.waitForAllReduce(90_000, epochBefore + 1);
    const now = await story.memberGpu(member.pod);
    expect(await story.engineGpus(member.pod)).toBe(now.uuid);
    expect(now.uuid).not.toBe(member.uuid);
    expect([...lines.values()].every((l) => / sum=3$/.test(l))).toBe(true);
    await story.waitForGroupReady(30_000);
  }, 200_000);

  it('deleting the workload leaves no pods, claims, CDI specs or processes, and the agents’ slices as they were', async () => {
    const before = await story.slices();
    await story.deleteWorkload(60_000);
    const left = await story.leftovers();
    expect(left).toEqual({ cdiSpecs: [], claims: [], processes: [] });
    const pods = await story.client.get<{ items: Pod[] }>(resourcePath(PODS, { namespace: NAMESPACE }));
    expect(pods.items).toEqual([]);
    const after = await story.slices();
    expect(after.length).toBe(before.length);
    expect(deviceNames(after)).toEqual(deviceNames(before));
  }, 90_000);
});

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitFor<T>(probe: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
