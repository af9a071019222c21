import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Inventory } from '../../../agent/discovery/inventory.js';
import { RescanLoop } from '../../../agent/discovery/rescan.js';
import { waitFor } from '../../kube/wait.js';
import { h100Inventory } from '../slices/h100-inventory.js';

describe('RescanLoop', () => {
  it('scans before start() returns, hands every result on, and keeps the last good one when a scan fails', async () => {
    const results: (Inventory | Error)[] = [h100Inventory('a'), new Error('nvidia-smi timed out'), h100Inventory('c')];
    let calls = 0;
    const loop = new RescanLoop({
      scan: async () => {
        const r = results[calls++]!;
        if (r instanceof Error) throw r;
        return r;
      },
      intervalMs: 3_600_000,
    });
    const seen: (string | undefined)[] = [];
    loop.onInventory((inv) => seen.push(inv.node));
    await loop.start();
    expect(seen).toEqual(['a']);
    await loop.rescan();
    expect(loop.inventory?.node).toBe('a');
    expect(loop.failures).toBe(1);
    await Promise.all([loop.rescan(), loop.rescan()]); // overlapping requests share one scan
    expect(calls).toBe(3);
    expect(seen).toEqual(['a', 'c']);
    // a listener added late gets the current inventory at once
    const late: (string | undefined)[] = [];
    loop.onInventory((inv) => late.push(inv.node));
    expect(late).toEqual(['c']);
    await loop.stop();
  });

  it('rescans on its timer', async () => {
    let calls = 0;
    const loop = new RescanLoop({
      scan: async () => {
        calls++;
        return h100Inventory();
      },
      intervalMs: 10,
    });
    await loop.start();
    await waitFor(() => calls > 2, 'two timer rescans');
    await loop.stop();
    const after = calls;
    await new Promise((r) => setTimeout(r, 50));
    expect(calls).toBe(after); // stopped means stopped
  });

  it('rescans when a watched directory changes (udev database), and skips missing ones', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'udev-'));
    let calls = 0;
    const loop = new RescanLoop({
      scan: async () => {
        calls++;
        return h100Inventory();
      },
      intervalMs: 3_600_000,
      watchDirs: [join(dir, 'missing'), dir],
      debounceMs: 20,
    });
    await loop.start();
    expect(calls).toBe(1);
    writeFileSync(join(dir, 'c189:1'), 'E:ID_PATH=pci-0000:19:00.0\n');
    writeFileSync(join(dir, 'n7'), 'I:1\n');
    await waitFor(() => calls >= 2, 'a rescan after the change');
    await loop.stop();
  });
});
