import { describe, expect, it } from 'vitest';
import { classify, unhealthyDevices, whyHeldUp } from '../../../leader/coordinator/pod-watch.js';
import type { Pod } from '../../../src/kube/types.js';
import { isPlainText } from '../../../src/text/untrusted.js';

function pod(over: { uid?: string; deleting?: boolean; status?: Pod['status'] } = {}): Pod {
  return {
    metadata: {
      name: 'llm-1',
      uid: over.uid ?? 'u1',
      ...(over.deleting ? { deletionTimestamp: '2026-01-01T00:00:00Z' } : {}),
    },
    spec: { containers: [{ name: 'engine' }] },
    status: over.status ?? { phase: 'Running' },
  };
}

const restarted = (n: number): Pod['status'] => ({ containerStatuses: [{ name: 'engine', restartCount: n }] });
// the kubelet's KEP-4680 field, as the kubelet emulator writes it
const allocated = (health: string): Pod['status'] => ({
  containerStatuses: [
    {
      name: 'engine',
      restartCount: 0,
      allocatedResourcesStatus: [
        { name: 'claim:gpu', resources: [{ resourceID: 'lockstep.dev/node-a/gpu-3', health }] },
      ],
    },
  ],
});

describe('classify (pod watch → member loss)', () => {
  it('deletion, and the start of a graceful deletion', () => {
    expect(classify('delete', pod(), pod())).toEqual({
      kind: 'lost',
      loss: 'pod-deleted',
      reason: 'pod llm-1 was deleted',
    });
    expect(classify('update', pod({ deleting: true }), pod())).toMatchObject({ loss: 'pod-deleted' });
    expect(classify('update', pod({ deleting: true }), pod({ deleting: true }))).toEqual({ kind: 'none' });
  });

  it('a container restart, but not the restart count of a recreated pod', () => {
    expect(classify('update', pod({ status: restarted(1) }), pod({ status: restarted(0) }))).toEqual({
      kind: 'lost',
      loss: 'pod-restarted',
      reason: 'container engine of pod llm-1 restarted (restart count 1)',
    });
    expect(classify('update', pod({ uid: 'u2', status: restarted(0) }), pod({ status: restarted(3) }))).toEqual({
      kind: 'present',
    });
  });

  it('devices turning unhealthy: the DevicesHealthy condition or allocatedResourcesStatus, once', () => {
    const bad = pod({
      status: { conditions: [{ type: 'lockstep.dev/DevicesHealthy', status: 'False', reason: 'XID79' }] },
    });
    expect(classify('update', bad, pod())).toEqual({
      kind: 'lost',
      loss: 'device',
      reason: 'device unhealthy (lockstep.dev/DevicesHealthy=False, XID79)',
    });
    expect(classify('update', bad, bad)).toEqual({ kind: 'none' });
    expect(classify('update', pod({ status: allocated('Unhealthy') }), pod({ status: allocated('Healthy') }))).toEqual({
      kind: 'lost',
      loss: 'device',
      reason: 'device unhealthy (allocatedResourcesStatus: lockstep.dev/node-a/gpu-3 Unhealthy)',
    });
    expect(unhealthyDevices(pod({ status: allocated('Unknown') }))).toBeUndefined();
  });

  it('a healthy pod (new or recreated) is present', () => {
    expect(classify('add', pod(), undefined)).toEqual({ kind: 'present' });
    expect(classify('update', pod({ uid: 'u2' }), pod())).toEqual({ kind: 'present' });
  });
});

/** A container status as the kubelet writes it while the container waits (fields of core/v1 ContainerStateWaiting). */
const waitingAs = (name: string, reason: string, message?: string) => ({
  name,
  restartCount: 0,
  state: { waiting: message === undefined ? { reason } : { reason, message } },
});

describe('whyHeldUp: a released member’s engine container that has not started', () => {
  it.each([
    ['no container status yet', { phase: 'Pending' }, undefined],
    [
      'a running container',
      { containerStatuses: [{ name: 'engine', restartCount: 0, state: { running: { startedAt: 'now' } } }] },
      undefined,
    ],
    [
      'an image that cannot be pulled',
      {
        containerStatuses: [
          waitingAs('engine', 'ImagePullBackOff', 'Back-off pulling image "registry.example/vllm:v9.9"'),
        ],
      },
      'container engine waiting: ImagePullBackOff (Back-off pulling image "registry.example/vllm:v9.9")',
    ],
    [
      'a missing Secret, and a sidecar still creating',
      {
        containerStatuses: [
          waitingAs('engine', 'CreateContainerConfigError', 'secret "hf-token" not found'),
          waitingAs('metrics', 'ContainerCreating'),
        ],
      },
      'container engine waiting: CreateContainerConfigError (secret "hf-token" not found); container metrics waiting: ContainerCreating',
    ],
    [
      'only an init container waits (bootstrap has not exited: no release yet)',
      { initContainerStatuses: [waitingAs('lockstep-bootstrap', 'PodInitializing')] },
      undefined,
    ],
  ] as const)('%s', (_what, status, want) => {
    expect(whyHeldUp(pod({ status: status as Pod['status'] }))).toBe(want);
  });

  it('hostile status text cannot forge lines, move the cursor or flood a log line', () => {
    const hostile = pod({
      status: {
        containerStatuses: [
          waitingAs('engine', 'ErrImagePull\u001b[2J', `pull failed\nFAKE LOG LINE ${'x'.repeat(5000)}`),
        ],
      },
    });
    const text = whyHeldUp(hostile)!;
    expect(isPlainText(text)).toBe(true);
    expect(text).not.toContain('\u001b');
    expect(text).toContain('pull failed FAKE LOG LINE');
    expect(text.length).toBeLessThan(500);
  });
});

describe('whyHeldUp: a pod of the group that has not joined', () => {
  // shapes of core/v1 PodStatus as the scheduler and the kubelet write them
  const unschedulable = {
    phase: 'Pending',
    conditions: [
      {
        type: 'PodScheduled',
        status: 'False',
        reason: 'Unschedulable',
        message: '0/4 nodes are available: 4 Insufficient nvidia.com/gpu. preemption: 0/4 nodes are available',
      },
    ],
  };
  const initializing = {
    phase: 'Pending',
    conditions: [{ type: 'PodScheduled', status: 'True' }],
    initContainerStatuses: [{ name: 'lockstep-bootstrap', restartCount: 0, state: { running: {} } }],
    containerStatuses: [waitingAs('engine', 'PodInitializing')],
  };
  it.each([
    [
      'not scheduled: too few GPUs',
      unschedulable,
      'not scheduled: Unschedulable (0/4 nodes are available: 4 Insufficient nvidia.com/gpu. preemption: 0/4 nodes are available)',
    ],
    [
      'the lockstep image cannot be pulled on its node',
      {
        phase: 'Pending',
        initContainerStatuses: [waitingAs('lockstep-bootstrap', 'ErrImagePull', 'rpc error: code = NotFound')],
        containerStatuses: [waitingAs('engine', 'PodInitializing')],
      },
      'init container lockstep-bootstrap waiting: ErrImagePull (rpc error: code = NotFound)',
    ],
    [
      'bootstrap crash-looping',
      {
        phase: 'Pending',
        initContainerStatuses: [
          {
            name: 'lockstep-bootstrap',
            restartCount: 4,
            state: { waiting: { reason: 'CrashLoopBackOff', message: 'back-off 1m20s restarting failed container' } },
            lastState: { terminated: { exitCode: 3, reason: 'Error' } },
          },
        ],
      },
      'init container lockstep-bootstrap waiting: CrashLoopBackOff (back-off 1m20s restarting failed container), last exit code 3',
    ],
    ['scheduled, bootstrap running: nothing wrong yet', initializing, undefined],
    ['just created: no status yet', { phase: 'Pending' }, undefined],
  ] as const)('%s', (_what, status, want) => {
    expect(whyHeldUp(pod({ status: status as Pod['status'] }))).toBe(want);
  });

  it('a pod being deleted says so', () => {
    expect(whyHeldUp(pod({ deleting: true, status: unschedulable as Pod['status'] }))).toBe('being deleted');
  });
});
