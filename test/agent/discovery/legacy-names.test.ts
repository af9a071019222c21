/**
 * Upgrades from positional names (`gpu-3`): the old names map to the hardware they meant at the upgrade, once, and
 * claims allocated or prepared under them keep working. Threats from the module doc: a damaged or edited alias file,
 * an alias to vanished hardware, a fresh install, an unreachable API.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { GpuDevice } from '../../../agent/discovery/inventory.js';
import {
  isLegacyName,
  legacyAliases,
  legacyNamesInCheckpoint,
  loadOrFreezeAliases,
  parseAliasFile,
  renderAliasFile,
} from '../../../agent/discovery/legacy-names.js';
import { planClaim } from '../../../agent/kubelet/claims.js';
import { servedDevices } from '../../../agent/kubelet/plugin.js';
import { h100Inventory } from '../kubelet/fixtures.js';

const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

/** The hand-made H100 inventory under today's names: `gpu-<bus address>`. */
function renamedInventory() {
  const inv = h100Inventory();
  for (const d of inv.devices) {
    if (d.kind === 'gpu') d.name = `gpu-${d.pci.address.replace(/[:.]/g, '-')}`;
  }
  return inv;
}

describe('legacy names', () => {
  it('tells the old positional names from today’s', () => {
    const table: [string, boolean][] = [
      ['gpu-0', true],
      ['gpu-12', true],
      ['gpu-3-mig-1-0', true],
      ['tpu-2', true],
      ['gpu-0000-19-00-0', false],
      ['gpu-0000-19-00-0-mig-1-0', false],
      ['nic-0000-1a-00-0', false],
      ['gpu-', false],
    ];
    for (const [name, legacy] of table) expect([name, isLegacyName(name)]).toEqual([name, legacy]);
  });

  it('maps gpu-<n> to the n-th NVIDIA GPU in PCI order, MIG devices with it, whatever order the inventory has', () => {
    const inv = renamedInventory();
    inv.devices.reverse();
    const gpu = inv.devices.find((d): d is GpuDevice => d.kind === 'gpu' && d.pci.address === '0000:3b:00.0')!;
    gpu.migEnabled = true;
    gpu.migDevices = [{ name: 'gpu-0000-3b-00-0-mig-2-0', gpuInstanceId: 2, computeInstanceId: 0 }];
    const aliases = legacyAliases(inv);
    expect(aliases.get('gpu-0')).toBe('gpu-0000-19-00-0');
    expect(aliases.get('gpu-1')).toBe('gpu-0000-3b-00-0');
    expect(aliases.get('gpu-7')).toBe('gpu-0000-db-00-0');
    expect(aliases.get('gpu-1-mig-2-0')).toBe('gpu-0000-3b-00-0-mig-2-0');
    expect(aliases.size).toBe(9);
  });

  it('finds legacy names only where a checkpoint records prepared devices (a node may be called gpu-1)', () => {
    const checkpoint = {
      version: 1,
      driver: 'lockstep.dev',
      node: 'gpu-1',
      claims: {
        u: { uid: 'u', devices: [{ device_name: 'gpu-3' }, { device_name: 'nic-0000-1a-00-0' }], specContent: 'gpu-4' },
      },
    };
    expect(legacyNamesInCheckpoint(checkpoint)).toEqual(['gpu-3']);
    for (const junk of [null, 'x', 3, { claims: 'no' }, { claims: { u: { devices: 'no' } } }, []]) {
      expect(legacyNamesInCheckpoint(junk)).toEqual([]);
    }
  });

  it('reads the device names of a version-2 checkpoint (camelCase) as of a version-1 one', () => {
    const checkpoint = {
      version: 2,
      driver: 'lockstep.dev',
      node: 'gpu-1',
      claims: { u: { uid: 'u', devices: [{ deviceName: 'gpu-5' }, { deviceName: 'gpu-0000-19-00-0' }] } },
    };
    expect(legacyNamesInCheckpoint(checkpoint)).toEqual(['gpu-5']);
  });

  it('trusts only well-formed alias entries (threat: a damaged or hand-edited file)', () => {
    const text = JSON.stringify({
      version: 1,
      aliases: {
        'gpu-0': 'gpu-0000-19-00-0',
        'gpu-1': 'gpu-2', // a legacy name as the target would chain names
        'gpu-0000-19-00-0': 'gpu-0000-3b-00-0', // not a legacy name
        'gpu-2': '../../etc', // not a DNS label
        'gpu-3': 7,
      },
    });
    expect([...parseAliasFile(text)]).toEqual([['gpu-0', 'gpu-0000-19-00-0']]);
    expect(() => parseAliasFile('{"version":2,"aliases":{}}')).toThrow(/version/);
    expect(() => parseAliasFile('[]')).toThrow();
    expect(parseAliasFile(renderAliasFile(new Map([['tpu-0', 'tpu-0000-00-05-0']])))).toEqual(
      new Map([['tpu-0', 'tpu-0000-00-05-0']]),
    );
  });

  it('freezes once: from the first inventory with legacy state, empty on a fresh node, not at all when it cannot tell', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'aliases-'));
    dirs.push(dir);
    const inv = renamedInventory();
    const path = join(dir, 'device-aliases.json');

    // API unreachable and no checkpoint evidence: used for this run, not written
    const unknown = await loadOrFreezeAliases({ path, inventory: inv, legacyStateFound: async () => undefined });
    expect(unknown.frozen).toBe(false);
    expect(unknown.aliases.get('gpu-3')).toBe('gpu-0000-5d-00-0');
    await expect(readFile(path, 'utf8')).rejects.toThrow(/ENOENT/);

    // legacy state found: written
    const first = await loadOrFreezeAliases({ path, inventory: inv, legacyStateFound: async () => true });
    expect(first.frozen).toBe(true);
    // a later start on a node that lost GPU 19:00.0 reads the file: gpu-3 still means 5d:00.0, not db:00.0's neighbour
    const degraded = renamedInventory();
    degraded.devices = degraded.devices.filter((d) => d.kind !== 'gpu' || d.pci.address !== '0000:19:00.0');
    const later = await loadOrFreezeAliases({ path, inventory: degraded, legacyStateFound: async () => true });
    expect(later.frozen).toBe(false);
    expect(later.aliases.get('gpu-3')).toBe('gpu-0000-5d-00-0');
    expect(later.aliases.get('gpu-0')).toBe('gpu-0000-19-00-0');

    // fresh node: an empty map, frozen, so a degraded later start never invents aliases
    const fresh = join(dir, 'fresh.json');
    expect(
      (await loadOrFreezeAliases({ path: fresh, inventory: inv, legacyStateFound: async () => false })).aliases.size,
    ).toBe(0);
    const again = await loadOrFreezeAliases({ path: fresh, inventory: degraded, legacyStateFound: async () => true });
    expect(again.aliases.size).toBe(0);

    // a damaged file is decided again and rewritten
    await writeFile(path, '{not json');
    const redone = await loadOrFreezeAliases({ path, inventory: inv, legacyStateFound: async () => true });
    expect(redone.frozen).toBe(true);
    expect(parseAliasFile(await readFile(path, 'utf8')).get('gpu-1')).toBe('gpu-0000-3b-00-0');
  });

  it('a claim allocated under an old name is planned on the mapped GPU and answered under the old name', () => {
    const inv = renamedInventory();
    const aliases = legacyAliases(inv);
    const claim = { uid: 'u1', namespace: 'ml', name: 'old' };
    const api = {
      metadata: { uid: 'u1', namespace: 'ml', name: 'old' },
      status: {
        allocation: {
          devices: { results: [{ request: 'gpus', driver: 'lockstep.dev', pool: 'gpu-node-1', device: 'gpu-3' }] },
        },
      },
    };
    const context = {
      driver: 'lockstep.dev',
      nodeName: 'gpu-node-1',
      poolName: 'gpu-node-1',
      devices: servedDevices(inv),
      health: () => undefined,
    };
    const plan = planClaim(claim, api, { ...context, aliases });
    expect(plan.ok && plan.devices.map((p) => [p.allocatedName, p.device.name])).toEqual([
      ['gpu-3', 'gpu-0000-5d-00-0'],
    ]);
    // without the map the old name is a device this node does not have (alias to vanished hardware fails the same way)
    const none = planClaim(claim, api, context);
    expect(none.ok).toBe(false);
    const vanished = planClaim(claim, api, { ...context, aliases: new Map([['gpu-3', 'gpu-0000-77-00-0']]) });
    expect(!vanished.ok && vanished.error).toMatch(/device gpu-3 .* this node has no such device/);
  });
});
