import { describe, expect, it } from 'vitest';
import { DRIVER } from '../../../src/contract/names.js';
import { buildInventory } from '../../../src/kubectl/model/devices.js';
import { buildNodes } from '../../../src/kubectl/model/nodes.js';
import { h100Slice, node } from '../fixtures.js';

describe('buildNodes', () => {
  it('counts per node and joins the Node object', () => {
    const inv = buildInventory(
      [h100Slice('h100-b', { unhealthy: { 'gpu-3': 'xid 79' } }), h100Slice('h100-a')],
      DRIVER,
    );
    const rows = buildNodes(inv, [
      node('h100-a'),
      node('h100-b', { taints: [{ key: 'nvidia.com/gpu', value: 'present', effect: 'NoSchedule' }] }),
    ]);
    expect(rows.map((r) => r.node)).toEqual(['h100-a', 'h100-b']);
    expect(rows[1]).toMatchObject({
      accelerators: 8,
      nics: 8,
      healthy: 15,
      unhealthy: 1,
      unknown: 0,
      tainted: 1,
      agentVersion: '0.1.0',
      models: ['8x NVIDIA H100 80GB HBM3'],
      driverVersions: ['535.161.8'],
      nodeTaints: ['nvidia.com/gpu=present:NoSchedule'],
      poolComplete: true,
      nodeFound: true,
    });
    expect(rows[1]!.created?.toISOString()).toBe('2026-11-20T05:00:00.000Z');
  });

  it('flags slices of a node the API does not know, and copes without Node objects', () => {
    const inv = buildInventory([h100Slice('gone')], DRIVER);
    expect(buildNodes(inv, [node('other')])[0]!.nodeFound).toBe(false);
    const blind = buildNodes(inv, undefined)[0]!;
    expect(blind.nodeFound).toBe(true);
    expect(blind.nodeTaints).toEqual([]);
    expect(blind.created?.toISOString()).toBe('2026-11-22T04:00:00.000Z');
  });
});
