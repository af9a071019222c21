import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Inventory } from '../../../agent/discovery/inventory.js';
import { excludeNics, globMatch, parseNicExclude } from '../../../agent/discovery/nic-exclude.js';
import { scanInventory } from '../../../agent/discovery/scan.js';
import { buildSimulatedNode } from '../../cluster/nodes/index.js';
import { parseLockstep } from '../../support/parse-command.js';

describe('parseNicExclude', () => {
  const cases: [string, unknown][] = [
    ['0000:01:00.0', [{ kind: 'pci', address: '0000:01:00.0' }]],
    ['01:00.1', [{ kind: 'pci', address: '0000:01:00.1' }]],
    ['0000:1A:00.0', [{ kind: 'pci', address: '0000:1a:00.0' }]],
    [
      'eno1, eno2',
      [
        { kind: 'name', pattern: 'eno1' },
        { kind: 'name', pattern: 'eno2' },
      ],
    ],
    ['enp1s0f*', [{ kind: 'name', pattern: 'enp1s0f*' }]],
    [
      'mlx5_0,nic-0000-1a-00-0',
      [
        { kind: 'name', pattern: 'mlx5_0' },
        { kind: 'name', pattern: 'nic-0000-1a-00-0' },
      ],
    ],
    ['', []],
  ];
  it.each(cases)('%j', (value, expected) => {
    expect(parseNicExclude(value)).toEqual(expected);
  });
  it.each(['*', '**', 'eth0/x', 'a b', 'x'.repeat(65), 'eth\u0000'])('refuses %j', (value) => {
    expect(() => parseNicExclude(value)).toThrow(/--nic-exclude/);
  });
});

describe('globMatch', () => {
  it('agrees with an anchored regular expression for every pattern and text', () => {
    const alphabet = fc.constantFrom('a', 'b', 'n', '0', '*');
    fc.assert(
      fc.property(fc.string({ unit: alphabet, maxLength: 8 }), fc.string({ unit: alphabet, maxLength: 10 }), (p, t) => {
        const text = t.replaceAll('*', 'x');
        const re = new RegExp(`^${p.split('*').join('.*')}$`);
        expect(globMatch(p, text)).toBe(re.test(text));
      }),
    );
  });
});

describe('excludeNics on the authored HGX model', () => {
  let dir: string;
  let inventory: Inventory;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'nic-exclude-'));
    const node = await buildSimulatedNode('h100-hgx', dir);
    inventory = await scanInventory({
      sysfsRoot: node.sysfsRoot,
      devRoot: node.devRoot,
      nvidiaSmi: node.nvidiaSmiPath,
      nvidiaSmiTimeoutMs: 5000,
    });
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  const nics = (inv: Inventory) =>
    inv.devices.flatMap((d) => (d.kind === 'nic' ? [`${d.ifName}@${d.pciAddress}`] : [])).sort();

  it('drops the management ports by name pattern, and nothing else', () => {
    const out = excludeNics(inventory, parseNicExclude('enp1s0f*'));
    expect(nics(out)).toEqual(nics(inventory).filter((n) => !n.startsWith('enp1s0f')));
    expect(nics(inventory).length - nics(out).length).toBe(2);
    expect(out.excludedInterfaces).toEqual(
      expect.arrayContaining([
        { ifName: 'enp1s0f0', reason: '--nic-exclude enp1s0f*' },
        { ifName: 'enp1s0f1', reason: '--nic-exclude enp1s0f*' },
      ]),
    );
    expect(out.devices.filter((d) => d.kind === 'gpu')).toHaveLength(8);
  });

  it('drops a NIC by PCI address or RDMA name, and affinity no longer names it', () => {
    const cx7 = inventory.devices.find((d) => d.kind === 'nic' && d.pciAddress === '0000:1a:00.0');
    expect(cx7).toBeDefined();
    expect(inventory.affinity.some((a) => a.nics.some((n) => n.nic === cx7?.name))).toBe(true);
    for (const value of ['1a:00.0', 'mlx5_0']) {
      const out = excludeNics(inventory, parseNicExclude(value));
      expect(out.devices.some((d) => d.name === cx7?.name)).toBe(false);
      expect(out.affinity.some((a) => a.nics.some((n) => n.nic === cx7?.name))).toBe(false);
      expect(out.devices).toHaveLength(inventory.devices.length - 1);
    }
  });

  it('an exclusion that matches nothing leaves the inventory as it was', () => {
    expect(excludeNics(inventory, parseNicExclude('eno9,0000:ff:00.0'))).toBe(inventory);
  });
});

describe('lockstep agent --nic-exclude', () => {
  it('refuses a value that is neither a PCI address nor a name (usage error)', async () => {
    const r = await parseLockstep(['agent', '--node-name', 'n1', '--nic-exclude', 'eno1,*']);
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain('"*" in --nic-exclude is neither a PCI address');
  });
});
