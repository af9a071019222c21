import { readFileSync } from 'node:fs';
import { appendFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DeviceHealthBoard } from '../../../agent/health/board.js';
import type { HealthHooks } from '../../../agent/health/hooks.js';
import { HealthVerdicts } from '../../../agent/health/verdicts.js';
import { xidCatalog } from '../../../agent/health/xid-catalog.js';
import {
  CLEAR_XID_FILE,
  XID_STATE_FILE,
  XidMonitor,
  type XidMonitorOptions,
  xidReason,
} from '../../../agent/health/xid-monitor.js';
import { itRecorded } from '../../support/recorded.js';
import { dmesgToKmsg, FIXTURES, H100_GPUS, waitFor } from './support.js';

const xid119Log = () => readFileSync(join(FIXTURES, 'kernel-log', 'gpud__dmesg__xid-119-gsp-timeout.log'), 'utf8');

let dir: string;
let kmsg: string;
let stateDir: string;
const monitors: XidMonitor[] = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'xid-monitor-'));
  kmsg = join(dir, 'kmsg');
  stateDir = join(dir, 'state');
  // an existing log without XIDs (the driver's banner, as at every boot)
  await writeFile(kmsg, '6,1,0,-;NVRM: loading NVIDIA UNIX x86_64 Kernel Module  550.54.15\n');
});
afterEach(async () => {
  for (const m of monitors.splice(0)) await m.stop();
  await rm(dir, { recursive: true, force: true });
});

interface Setup {
  board: DeviceHealthBoard;
  monitor: XidMonitor;
  xids: { xid: number; device: string | undefined; fault: boolean }[];
}

async function setup(extra: Partial<XidMonitorOptions> = {}): Promise<Setup> {
  const board = new DeviceHealthBoard();
  const verdicts = new HealthVerdicts(board);
  for (const g of H100_GPUS) verdicts.track(g.name);
  const xids: Setup['xids'] = [];
  const hooks: HealthHooks = { xid: (xid, device, fault) => xids.push({ xid, device, fault }) };
  const monitor = new XidMonitor({ verdicts, kmsgPath: kmsg, stateDir, hooks, filePollMs: 50, ...extra });
  monitor.setGpus(H100_GPUS);
  monitors.push(monitor);
  await monitor.start();
  return { board, monitor, xids };
}

const line = (seq: number, text: string) => `4,${seq},0,-;${text}\n`;

describe('XidMonitor', () => {
  itRecorded('marks GPU 9b:00 (gpu-4) unhealthy from the recorded XID-119 log, and nothing else', async () => {
    const { board, xids, monitor } = await setup();
    // the recording is dmesg text; it is converted to kmsg records (see dmesgToKmsg) and appended as the kernel would
    await appendFile(kmsg, `${dmesgToKmsg(xid119Log(), 100).join('\n')}\n`);
    await waitFor(() => xids.length === 5, 'the five XID 119 lines');
    const unhealthy = board.all().filter((e) => e.state !== 'healthy');
    expect(unhealthy.map((e) => e.device)).toEqual(['gpu-4']);
    expect(board.get('gpu-4')).toMatchObject({ state: 'unhealthy', reason: 'XID-119-gsp-timeout', source: 'xid' });
    expect(board.get('gpu-4')?.message).toMatch(
      /^XID 119 on 0000:9b:00\.0: GSP firmware RPC timeout \(action: reset-gpu\)/,
    );
    expect(board.all()).toHaveLength(8);
    expect(monitor.currentFaults().get('gpu-4')).toMatchObject({ xid: 119, count: 5 });
  });

  it('records application XIDs without making the device unhealthy', async () => {
    const { board, xids } = await setup();
    await appendFile(kmsg, line(2, 'NVRM: Xid (PCI:0000:3b:00): 13, pid=1, name=python, Graphics Exception'));
    await appendFile(kmsg, line(3, 'NVRM: Xid (PCI:0000:3b:00): 31, pid=1, name=python, MMU Fault'));
    await waitFor(() => xids.length === 2, 'two XIDs');
    expect(xids).toEqual([
      { xid: 13, device: 'gpu-1', fault: false },
      { xid: 31, device: 'gpu-1', fault: false },
    ]);
    expect(board.get('gpu-1')?.state).toBe('healthy');
  });

  it('takes a configured ignore list instead of the default', async () => {
    const { board, xids } = await setup({ ignore: [63] });
    await appendFile(kmsg, line(2, 'NVRM: Xid (PCI:0000:3b:00): 63, Row Remapper: New row marked for remapping'));
    await appendFile(kmsg, line(3, 'NVRM: Xid (PCI:0000:4c:00): 13, pid=1, name=python, Graphics Exception'));
    await waitFor(() => xids.length === 2, 'two XIDs');
    expect(board.get('gpu-1')?.state).toBe('healthy');
    expect(board.get('gpu-2')).toMatchObject({ state: 'unhealthy', reason: 'XID-13-engine-exception' });
  });

  it('counts XIDs for PCI devices it does not publish without touching any device', async () => {
    const { board, xids } = await setup();
    await appendFile(kmsg, line(2, 'NVRM: Xid (PCI:0000:01:00): 79, GPU has fallen off the bus.'));
    await waitFor(() => xids.length === 1, 'the XID');
    expect(xids[0]).toEqual({ xid: 79, device: undefined, fault: true });
    expect(board.all().every((e) => e.state === 'healthy')).toBe(true);
  });

  it('keeps the more drastic fault as the reason', async () => {
    const { board, xids } = await setup();
    await appendFile(kmsg, line(2, 'NVRM: Xid (PCI:0000:9b:00): 119, pid=1, name=x, Timeout'));
    await appendFile(kmsg, line(3, 'NVRM: Xid (PCI:0000:9b:00): 79, GPU has fallen off the bus.'));
    await appendFile(kmsg, line(4, 'NVRM: Xid (PCI:0000:9b:00): 119, pid=1, name=x, Timeout'));
    await waitFor(() => xids.length === 3, 'three XIDs');
    expect(board.get('gpu-4')?.reason).toBe('XID-79-fallen-off-bus');
  });

  it('keeps faults and the cursor across a restart, reading records written while down exactly once', async () => {
    const first = await setup();
    await appendFile(kmsg, line(2, 'NVRM: Xid (PCI:0000:9b:00): 79, GPU has fallen off the bus.'));
    await waitFor(() => first.xids.length === 1, 'the first XID');
    await first.monitor.stop();
    await appendFile(kmsg, line(3, 'NVRM: Xid (PCI:0000:bb:00): 48, DBE (double bit error) ECC error'));
    const second = await setup();
    expect(second.board.get('gpu-4')).toMatchObject({ state: 'unhealthy', reason: 'XID-79-fallen-off-bus' });
    await waitFor(() => second.xids.length === 1, 'the XID written while down');
    await appendFile(kmsg, line(4, 'NVRM: Xid (PCI:0000:cb:00): 13, app'));
    await waitFor(() => second.xids.length === 2, 'the XID after restart');
    expect(second.xids.map((x) => x.xid)).toEqual([48, 13]);
    expect(second.board.get('gpu-5')).toMatchObject({ state: 'unhealthy', reason: 'XID-48-double-bit-ecc' });
    const state = JSON.parse(await readFile(join(stateDir, XID_STATE_FILE), 'utf8')) as {
      faults: Record<string, unknown>;
    };
    expect(Object.keys(state.faults).sort()).toEqual(['gpu-4', 'gpu-5']);
  });

  it('clears faults named in the clear-xid file (by name or PCI address) and deletes the file', async () => {
    const { board, xids, monitor } = await setup();
    await appendFile(kmsg, line(2, 'NVRM: Xid (PCI:0000:9b:00): 79, off the bus'));
    await appendFile(kmsg, line(3, 'NVRM: Xid (PCI:0000:bb:00): 79, off the bus'));
    await appendFile(kmsg, line(4, 'NVRM: Xid (PCI:0000:db:00): 79, off the bus'));
    await waitFor(() => xids.length === 3, 'three XIDs');
    await writeFile(join(stateDir, CLEAR_XID_FILE), 'gpu-4\n0000:bb:00.0\n');
    await waitFor(() => board.get('gpu-5')?.state === 'healthy', 'gpu-5 cleared');
    expect(board.get('gpu-4')?.state).toBe('healthy');
    expect(board.get('gpu-7')?.state).toBe('unhealthy');
    await waitFor(async () => !(await readFile(join(stateDir, CLEAR_XID_FILE)).catch(() => undefined)), 'file removed');
    await writeFile(join(stateDir, CLEAR_XID_FILE), 'all\n');
    await waitFor(() => board.get('gpu-7')?.state === 'healthy', 'gpu-7 cleared by "all"');
    await monitor.stop();
    const again = await setup();
    expect(again.board.all().every((e) => e.state === 'healthy')).toBe(true);
  });

  it('drops faults recorded in another boot (the reboot reset the GPUs)', async () => {
    const bootA = join(dir, 'boot-a');
    const bootB = join(dir, 'boot-b');
    await writeFile(bootA, 'aaaa\n');
    await writeFile(bootB, 'bbbb\n');
    const first = await setup({ bootIdPath: bootA });
    await appendFile(kmsg, line(2, 'NVRM: Xid (PCI:0000:9b:00): 79, off the bus'));
    await waitFor(() => first.xids.length === 1, 'the XID');
    await first.monitor.stop();
    const second = await setup({ bootIdPath: bootB });
    expect(second.board.get('gpu-4')?.state).toBe('healthy');
  });

  it('leaves an empty clear-xid file alone (a writer between create and write)', async () => {
    const { board, xids } = await setup();
    await appendFile(kmsg, line(2, 'NVRM: Xid (PCI:0000:9b:00): 79, off the bus'));
    await waitFor(() => xids.length === 1, 'the XID');
    await writeFile(join(stateDir, CLEAR_XID_FILE), '');
    await new Promise((r) => setTimeout(r, 100));
    expect(board.get('gpu-4')?.state).toBe('unhealthy');
  });

  it('ignores a state file that is not JSON and reads this boot’s log from its start, as with no state', async () => {
    await appendFile(kmsg, line(2, 'NVRM: Xid (PCI:0000:5d:00): 74, NVLink error'));
    await import('node:fs/promises').then((fs) => fs.mkdir(stateDir, { recursive: true }));
    await writeFile(join(stateDir, XID_STATE_FILE), '{not json');
    const { board, xids } = await setup();
    await waitFor(() => xids.length === 1, 'the XID');
    expect(xids[0]?.xid).toBe(74);
    expect(board.get('gpu-3')?.reason).toBe('XID-74-nvlink-error');
  });

  it('after the state dir is lost, reports the XIDs this boot already logged for GPUs still present', async () => {
    const first = await setup();
    await appendFile(kmsg, line(2, 'NVRM: Xid (PCI:0000:9b:00): 79, GPU has fallen off the bus.'));
    await appendFile(kmsg, line(3, 'NVRM: Xid (PCI:0000:e1:00): 79, a GPU this node does not have'));
    await appendFile(kmsg, line(4, 'NVRM: Xid (PCI:0000:cb:00): 13, app error (no fault)'));
    await waitFor(() => first.xids.length === 3, 'the XIDs');
    await first.monitor.stop();
    await rm(stateDir, { recursive: true, force: true });
    const second = await setup();
    await waitFor(() => second.xids.length === 3, 'the XIDs read again from the log');
    expect(second.board.get('gpu-4')).toMatchObject({ state: 'unhealthy', reason: 'XID-79-fallen-off-bus' });
    // an XID of a device that is not here is counted but touches no device; an application XID stays no fault
    expect(second.xids).toEqual([
      { xid: 79, device: 'gpu-4', fault: true },
      { xid: 79, device: undefined, fault: true },
      { xid: 13, device: 'gpu-6', fault: false },
    ]);
    expect(
      second.board
        .all()
        .filter((e) => e.state !== 'healthy')
        .map((e) => e.device),
    ).toEqual(['gpu-4']);
    // and the saved state now holds the cursor: a third start does not count them again
    await second.monitor.stop();
    const third = await setup();
    await new Promise((r) => setTimeout(r, 300));
    expect(third.xids).toEqual([]);
    expect(third.board.get('gpu-4')?.state).toBe('unhealthy');
  });
});

describe('XidMonitor with a kernel log it cannot open', () => {
  it('keeps running, says why, and starts reading once the log can be opened', async () => {
    const blocker = join(dir, 'not-a-dir');
    await writeFile(blocker, '');
    const board = new DeviceHealthBoard();
    const verdicts = new HealthVerdicts(board);
    const monitor = new XidMonitor({
      verdicts,
      kmsgPath: join(blocker, 'kmsg'),
      stateDir,
      retryMs: 50,
      filePollMs: 50,
    });
    monitors.push(monitor);
    monitor.setGpus(H100_GPUS);
    await monitor.start();
    expect(monitor.problem()).toMatch(/ENOTDIR/);
    await rm(blocker);
    await import('node:fs/promises').then((fs) => fs.mkdir(blocker));
    await waitFor(() => monitor.problem() === undefined, 'the retry');
    await appendFile(join(blocker, 'kmsg'), line(1, 'NVRM: Xid (PCI:0000:19:00): 79, off the bus'));
    await waitFor(() => board.get('gpu-0')?.state === 'unhealthy', 'the XID after the retry');
  });
});

describe('XID reasons', () => {
  it('are valid label values (taint values) for every catalogued and unknown code', () => {
    const labelValue = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
    for (const xid of [...xidCatalog().map((i) => i.xid), 1, 99999]) {
      const reason = xidReason(xid);
      expect(reason).toMatch(labelValue);
      expect(reason.length).toBeLessThanOrEqual(63);
    }
  });
});
