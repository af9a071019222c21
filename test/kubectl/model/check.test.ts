import { describe, expect, it } from 'vitest';
import { DRIVER } from '../../../src/contract/names.js';
import { findProblems } from '../../../src/kubectl/model/check.js';
import { buildInventory } from '../../../src/kubectl/model/devices.js';
import { buildGroups } from '../../../src/kubectl/model/groups.js';
import { buildPods } from '../../../src/kubectl/model/pods.js';
import { h100Slice, pod, recoveringGroup } from '../fixtures.js';

describe('findProblems', () => {
  it('finds nothing on a healthy cluster', () => {
    const inv = buildInventory([h100Slice('a'), h100Slice('b')], DRIVER);
    const result = findProblems({ ...inv, pods: [], groups: [] });
    expect(result).toEqual({ problems: [], checked: { nodes: 2, devices: 32, pods: 0, groups: 0 } });
  });

  it('lists the unhealthy device, the pod holding it and the recovering group', () => {
    const { pods, claims } = recoveringGroup('ml');
    const inv = buildInventory(
      [h100Slice('h100-a'), h100Slice('h100-b', { unhealthy: { 'gpu-3': 'xid 79' } })],
      DRIVER,
    );
    const { problems } = findProblems({
      ...inv,
      pods: buildPods(pods, claims, DRIVER),
      groups: buildGroups(pods),
    });
    expect(problems).toEqual([
      { kind: 'device', object: 'h100-b/gpu-3', problem: 'unhealthy: xid 79' },
      { kind: 'pod', object: 'ml/llama-1', problem: 'device unhealthy: gpu-3' },
      {
        kind: 'group',
        object: 'ml/llama',
        problem: 'Recovering at epoch 3: member 1: device gpu-3 unhealthy (xid 79)',
      },
    ]);
  });

  it('calls unpublished health, incomplete pools, a False condition and a short Running group problems', () => {
    const slice = h100Slice('a', { resourceSliceCount: 2 });
    delete slice.spec.devices![0]!.attributes!.healthy;
    const inv = buildInventory([slice], DRIVER);
    const sick = pod('ml', 'p', { devicesHealthy: { status: 'False', reason: 'DeviceUnhealthy' } });
    const { status, pods } = recoveringGroup('ml');
    const running = { ...status, state: 'Running' as const };
    pods[0]!.metadata!.annotations = { 'lockstep.dev/group-status': JSON.stringify(running) };
    const { problems } = findProblems({ ...inv, pods: buildPods([sick], [], DRIVER), groups: buildGroups(pods) });
    expect(problems.map((p) => p.problem)).toEqual([
      'health not published',
      'pool a incomplete: 1 of 2 slices at generation 1',
      'DevicesHealthy=False: DeviceUnhealthy',
      'Running with 1 of 2 members ready',
    ]);
  });

  it('does not call a Forming group a problem', () => {
    const forming = buildGroups([pod('ml', 'x-0', { group: 'x' })]).map((g) => ({ ...g, state: 'Forming' as const }));
    expect(findProblems({ devices: [], pools: [], pods: [], groups: forming }).problems).toEqual([]);
  });
});
