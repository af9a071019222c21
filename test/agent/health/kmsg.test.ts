import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  LineSplitter,
  parseKernelLogLine,
  parseKmsgRecord,
  parseXid,
  pciDeviceKey,
} from '../../../agent/health/kmsg.js';
import { itRecorded } from '../../support/recorded.js';
import { dmesgToKmsg, FIXTURES } from './support.js';

const xid119Log = () => readFileSync(join(FIXTURES, 'kernel-log', 'gpud__dmesg__xid-119-gsp-timeout.log'), 'utf8');

describe('parseKmsgRecord', () => {
  it('reads prio, sequence number, time and text', () => {
    expect(parseKmsgRecord('6,344,1392790,-;EXT4-fs (vda): mounted filesystem\n')).toEqual({
      seq: 344,
      level: 6,
      usec: 1392790,
      text: 'EXT4-fs (vda): mounted filesystem',
    });
  });

  it('takes the syslog level from the facility-encoded prio and accepts extra header fields', () => {
    expect(parseKmsgRecord('30,7,100,c,caller=T1;systemd started')).toMatchObject({
      seq: 7,
      level: 6,
      text: 'systemd started',
    });
  });

  it('leaves the dictionary lines that /dev/kmsg appends to a record out of the text', () => {
    const read =
      '4,1203,99,-;NVRM: Xid (PCI:0000:9b:00): 79, GPU has fallen off the bus.\n SUBSYSTEM=pci\n DEVICE=+pci:0000:9b:00.0\n';
    const record = parseKmsgRecord(read);
    expect(record?.text).toBe('NVRM: Xid (PCI:0000:9b:00): 79, GPU has fallen off the bus.');
    expect(parseXid(record?.text ?? '')).toMatchObject({ xid: 79, pciDevice: '0000:9b:00' });
  });

  it('is undefined for text that is not a record', () => {
    expect(parseKmsgRecord('[Sun Feb 23 16:24:18 2025] NVRM: hi')).toBeUndefined();
    expect(parseKmsgRecord('6,x,1,-;text')).toBeUndefined();
    expect(parseKmsgRecord('')).toBeUndefined();
  });
});

describe('parseKernelLogLine', () => {
  it('keeps plain dmesg lines as text and drops dictionary lines', () => {
    expect(parseKernelLogLine('[Sun Feb 23 16:24:18 2025] NVRM: x')).toEqual({
      text: '[Sun Feb 23 16:24:18 2025] NVRM: x',
    });
    expect(parseKernelLogLine(' SUBSYSTEM=pci')).toBeUndefined();
    expect(parseKernelLogLine('')).toBeUndefined();
  });
});

describe('parseXid', () => {
  it('reads XID, PCI device, pid and process name', () => {
    expect(
      parseXid(
        'NVRM: Xid (PCI:0000:9b:00): 119, pid=2024380, name=nvidia-smi, Timeout after 6s of waiting for RPC response',
      ),
    ).toEqual({
      xid: 119,
      pciDevice: '0000:9b:00',
      pid: 2024380,
      process: 'nvidia-smi',
      detail: 'pid=2024380, name=nvidia-smi, Timeout after 6s of waiting for RPC response',
    });
  });

  it('accepts the older format without PCI: and upper-case hex', () => {
    expect(parseXid('NVRM: Xid (0000:3B:00): 79, GPU has fallen off the bus.')).toMatchObject({
      xid: 79,
      pciDevice: '0000:3b:00',
    });
  });

  it('ignores lines that only mention a GPU', () => {
    expect(parseXid('NVRM: GPU at PCI:0000:9b:00: GPU-509665ad-b600-ac93-3616-d754b23d636d')).toBeUndefined();
    expect(parseXid('NVRM: Rate limiting GSP RPC error prints for GPU at PCI:0000:9b:00')).toBeUndefined();
  });

  itRecorded('finds exactly the five XID 119 lines of the recorded log, all on 0000:9b:00', () => {
    const records = dmesgToKmsg(xid119Log()).map((line) => parseKernelLogLine(line));
    const xids = records.flatMap((r) => (r ? [parseXid(r.text)] : [])).filter((x) => x !== undefined);
    expect(xids).toHaveLength(5);
    expect(new Set(xids.map((x) => `${x.xid}@${x.pciDevice}`))).toEqual(new Set(['119@0000:9b:00']));
    expect(xids.map((x) => x.process)).toEqual(['nvidia-smi', 'nvidia-smi', 'nvidia-smi', 'cache_mgr_main', 'gpud']);
  });
});

describe('pciDeviceKey', () => {
  it('joins kernel-log and inventory spellings', () => {
    expect(pciDeviceKey('0000:9b:00.0')).toBe('0000:9b:00');
    expect(pciDeviceKey('00000000:9B:00.0')).toBe('0000:9b:00');
    expect(pciDeviceKey('0000:9b:00')).toBe('0000:9b:00');
  });
});

describe('LineSplitter', () => {
  it('holds a line back until it ends', () => {
    const s = new LineSplitter();
    expect(s.push(Buffer.from('4,1,0,-;a\n4,2,0'))).toEqual({ lines: ['4,1,0,-;a'], consumed: 10 });
    expect(s.held).toBe(5);
    expect(s.push(Buffer.from(',-;b\n'))).toEqual({ lines: ['4,2,0,-;b'], consumed: 10 });
    expect(s.held).toBe(0);
  });

  it('yields the same lines however the stream is cut (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), fc.array(fc.nat(50), { maxLength: 20 }), (bytes, cuts) => {
        const data = Buffer.from(bytes);
        const whole = new LineSplitter().push(data);
        const s = new LineSplitter();
        const lines: string[] = [];
        let consumed = 0;
        let at = 0;
        for (const cut of [...cuts, data.length]) {
          const end = Math.min(data.length, at + cut);
          const got = s.push(data.subarray(at, end));
          lines.push(...got.lines);
          consumed += got.consumed;
          at = end;
        }
        expect(lines).toEqual(whole.lines);
        expect(consumed).toBe(whole.consumed);
      }),
    );
  });
});

describe('fuzzed kernel-log lines', () => {
  it('never throw and never invent XIDs outside the driver format', () => {
    const lineArb = fc.oneof(
      fc.string({ maxLength: 300 }),
      fc.string({ unit: 'binary', maxLength: 300 }),
      fc
        .tuple(fc.nat(), fc.nat(), fc.nat(), fc.string({ maxLength: 200 }))
        .map(([p, s, u, t]) => `${p},${s},${u},-;${t}`),
      fc
        .tuple(fc.string({ maxLength: 12 }), fc.integer({ min: -5, max: 100000 }), fc.string({ maxLength: 100 }))
        .map(([pci, xid, rest]) => `4,1,1,-;NVRM: Xid (PCI:${pci}): ${xid}, ${rest}`),
    );
    fc.assert(
      fc.property(lineArb, (line) => {
        const record = parseKernelLogLine(line);
        if (!record) return;
        const xid = parseXid(record.text);
        if (xid) {
          expect(Number.isInteger(xid.xid)).toBe(true);
          expect(xid.xid).toBeGreaterThanOrEqual(0);
          expect(xid.pciDevice).toMatch(/^[0-9a-f]{4,8}:[0-9a-f]{2}:[0-9a-f]{2}$/);
          expect(record.text).toContain('NVRM: Xid (');
        }
      }),
      { numRuns: 2000 },
    );
  });
});
