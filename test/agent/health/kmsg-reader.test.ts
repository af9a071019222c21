import { accessSync, constants } from 'node:fs';
import { appendFile, mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { KernelLogRecord } from '../../../agent/health/kmsg.js';
import { type KernelLogBatch, KernelLogReader, type KmsgCursor } from '../../../agent/health/kmsg-reader.js';
import { waitFor } from './support.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kmsg-reader-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function collector() {
  const batches: KernelLogBatch[] = [];
  return {
    batches,
    records: (): KernelLogRecord[] => batches.flatMap((b) => b.records),
    texts: (): string[] => batches.flatMap((b) => b.records.map((r) => r.text)),
    cursor: (): KmsgCursor | undefined => batches.at(-1)?.cursor,
    onBatch: (b: KernelLogBatch) => {
      batches.push(b);
    },
  };
}

const rec = (seq: number, text: string) => `4,${seq},${seq * 1000},-;${text}\n`;

describe('KernelLogReader on a regular file', () => {
  it('starts at the end of the existing log and then follows appended records', async () => {
    const path = join(dir, 'kmsg');
    await writeFile(path, rec(1, 'old one') + rec(2, 'old two'));
    const c = collector();
    const reader = new KernelLogReader({ path, onBatch: c.onBatch, filePollMs: 50 });
    await reader.start();
    await appendFile(path, rec(3, 'new three'));
    await waitFor(() => c.texts().includes('new three'), 'the appended record');
    await reader.stop();
    expect(c.texts()).toEqual(['new three']);
    expect(c.cursor()).toMatchObject({ seq: 3 });
  });

  it('holds a half-written line until its newline arrives', async () => {
    const path = join(dir, 'kmsg');
    await writeFile(path, '');
    const c = collector();
    const reader = new KernelLogReader({ path, onBatch: c.onBatch, filePollMs: 50 });
    await reader.start();
    await appendFile(path, '4,1,0,-;NVRM: Xid (PCI:0000:9b:00): 7');
    await new Promise((r) => setTimeout(r, 150));
    expect(c.texts()).toEqual([]);
    await appendFile(path, '9, GPU has fallen off the bus.\n');
    await waitFor(() => c.texts().length === 1, 'the completed line');
    await reader.stop();
    expect(c.texts()).toEqual(['NVRM: Xid (PCI:0000:9b:00): 79, GPU has fallen off the bus.']);
  });

  it('resumes after a restart without losing or repeating records written while it was down', async () => {
    const path = join(dir, 'kmsg');
    await writeFile(path, rec(1, 'before'));
    const first = collector();
    const a = new KernelLogReader({ path, onBatch: first.onBatch, filePollMs: 50 });
    await a.start();
    await appendFile(path, rec(2, 'seen by the first'));
    await waitFor(() => first.texts().length === 1, 'first record');
    await a.stop();
    await appendFile(path, rec(3, 'while down') + rec(4, 'also while down'));
    const second = collector();
    const cursor = first.cursor();
    expect(cursor).toBeDefined();
    const b = new KernelLogReader({ path, cursor: cursor ?? {}, onBatch: second.onBatch, filePollMs: 50 });
    await b.start();
    await appendFile(path, rec(5, 'after restart'));
    await waitFor(() => second.texts().includes('after restart'), 'record after restart');
    await b.stop();
    expect(second.texts()).toEqual(['while down', 'also while down', 'after restart']);
  });

  it('reads a file that shrank (rotated) from its start', async () => {
    const path = join(dir, 'kmsg');
    await writeFile(path, rec(1, 'a') + rec(2, 'b') + rec(3, 'c'));
    const c = collector();
    const reader = new KernelLogReader({ path, cursor: { offset: 10_000 }, onBatch: c.onBatch, filePollMs: 50 });
    await reader.start();
    await waitFor(() => c.texts().length === 3, 'the whole file');
    await reader.stop();
    expect(c.texts()).toEqual(['a', 'b', 'c']);
  });

  it('waits for a file that does not exist yet and reads it from the start', async () => {
    const path = join(dir, 'later');
    const c = collector();
    const reader = new KernelLogReader({ path, onBatch: c.onBatch, filePollMs: 30 });
    await reader.start();
    await writeFile(path, rec(1, 'first ever'));
    await waitFor(() => c.texts().length === 1, 'the new file');
    await reader.stop();
    expect(c.texts()).toEqual(['first ever']);
  });

  it('survives fuzzed bytes appended in arbitrary pieces (property)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 6 }), async (pieces) => {
        const path = join(dir, `fuzz-${Math.random()}`);
        await writeFile(path, '');
        const c = collector();
        const reader = new KernelLogReader({ path, onBatch: c.onBatch, filePollMs: 20 });
        await reader.start();
        for (const p of pieces) await appendFile(path, p);
        await appendFile(path, '\n4,99,0,-;END\n');
        await waitFor(() => c.texts().includes('END'), 'the END marker');
        await reader.stop();
      }),
      { numRuns: 15 },
    );
  });
});

/** A stand-in for /dev/kmsg that plays a script: one record per read, then EAGAIN; 'EPIPE' where records were lost. */
function scriptedDevice(script: (string | 'EPIPE')[]) {
  const queue = [...script];
  const fail = (code: string) => Object.assign(new Error(code), { code });
  return {
    push: (...items: (string | 'EPIPE')[]) => queue.push(...items),
    open: async () => ({
      read: async (buf: Buffer) => {
        const next = queue.shift();
        if (next === undefined) throw fail('EAGAIN');
        if (next === 'EPIPE') throw fail('EPIPE');
        return buf.write(next);
      },
      close: async () => undefined,
    }),
  };
}

describe('KernelLogReader on a kmsg device (scripted)', () => {
  it('on first start skips what the ring buffer holds, then delivers new records', async () => {
    const dev = scriptedDevice([rec(1, 'boot'), rec(2, 'old'), rec(3, 'older')]);
    const c = collector();
    const reader = new KernelLogReader({ path: 'kmsg', openDevice: dev.open, onBatch: c.onBatch, devicePollMs: 5 });
    await reader.start();
    await waitFor(() => c.batches.length > 0, 'the start-position batch');
    expect(c.batches[0]).toEqual({ records: [], cursor: { seq: 3 }, lost: 0 });
    dev.push(rec(4, 'new'));
    await waitFor(() => c.texts().includes('new'), 'the new record');
    await reader.stop();
    expect(c.texts()).toEqual(['new']);
  });

  it('resumes after the cursor and counts records lost to EPIPE', async () => {
    const dev = scriptedDevice([
      rec(1, 'a'),
      rec(2, 'b'),
      rec(3, 'c'),
      rec(4, 'd'),
      'EPIPE',
      rec(9, 'i'),
      rec(10, 'j'),
    ]);
    const c = collector();
    const reader = new KernelLogReader({
      path: 'kmsg',
      cursor: { seq: 3 },
      openDevice: dev.open,
      onBatch: c.onBatch,
      devicePollMs: 5,
    });
    await reader.start();
    await waitFor(() => c.texts().includes('j'), 'the records after the loss');
    await reader.stop();
    expect(c.texts()).toEqual(['d', 'i', 'j']);
    expect(c.batches.reduce((n, b) => n + b.lost, 0)).toBe(4);
    expect(c.cursor()?.seq).toBe(10);
  });

  it('notes a gap between the cursor and the oldest record still held after a restart', async () => {
    const dev = scriptedDevice([rec(50, 'oldest left'), rec(51, 'next')]);
    const c = collector();
    const reader = new KernelLogReader({
      path: 'kmsg',
      cursor: { seq: 20 },
      openDevice: dev.open,
      onBatch: c.onBatch,
      devicePollMs: 5,
    });
    await reader.start();
    await waitFor(() => c.texts().length === 2, 'both records');
    await reader.stop();
    expect(c.batches.reduce((n, b) => n + b.lost, 0)).toBe(29);
  });

  it('reads the whole log of this boot when the cursor comes from another boot', async () => {
    const dev = scriptedDevice([rec(1, 'boot'), rec(2, 'two')]);
    const c = collector();
    const reader = new KernelLogReader({
      path: 'kmsg',
      cursor: { seq: 900, bootId: 'old-boot' },
      bootId: 'new-boot',
      openDevice: dev.open,
      onBatch: c.onBatch,
      devicePollMs: 5,
    });
    await reader.start();
    await waitFor(() => c.texts().length === 2, 'this boot');
    await reader.stop();
    expect(c.texts()).toEqual(['boot', 'two']);
    expect(c.cursor()).toEqual({ seq: 2, bootId: 'new-boot' });
  });
});

// The real /dev/kmsg: one record per read(), EAGAIN at the end. Writing a record needs root (as in the agent's pod).
const kmsgReadable = (() => {
  try {
    accessSync('/dev/kmsg', constants.R_OK);
    return true;
  } catch {
    return false;
  }
})();
const kmsgWritable = (() => {
  try {
    accessSync('/dev/kmsg', constants.W_OK);
    return true;
  } catch {
    return false;
  }
})();

describe.skipIf(!kmsgReadable)('KernelLogReader on the real /dev/kmsg', () => {
  it('starts after the last existing record and resumes from a cursor without repeats', async () => {
    const first = collector();
    const a = new KernelLogReader({ path: '/dev/kmsg', onBatch: first.onBatch, devicePollMs: 20 });
    await a.start();
    await waitFor(() => first.batches.length > 0, 'the start-position batch');
    await a.stop();
    expect(first.records()).toEqual([]);
    const end = first.cursor()?.seq;
    expect(end).toBeGreaterThan(0);
    // resume two records back: exactly the records after the cursor come, the cursor's own does not
    const second = collector();
    const b = new KernelLogReader({
      path: '/dev/kmsg',
      cursor: { seq: (end ?? 2) - 2 },
      onBatch: second.onBatch,
      devicePollMs: 20,
    });
    await b.start();
    await waitFor(() => second.records().length >= 2, 'the two records after the cursor');
    await b.stop();
    expect(
      second
        .records()
        .slice(0, 2)
        .map((r) => r.seq),
    ).toEqual([(end ?? 2) - 1, end]);
  });

  it.skipIf(!kmsgWritable)('delivers a record written to the kernel log', async () => {
    const c = collector();
    const reader = new KernelLogReader({ path: '/dev/kmsg', onBatch: c.onBatch, devicePollMs: 20 });
    await reader.start();
    await waitFor(() => c.batches.length > 0, 'the start-position batch');
    const marker = `lockstep-test marker ${process.pid}-${Date.now()}`;
    const fh = await open('/dev/kmsg', 'w');
    await fh.write(`<6>${marker}\n`);
    await fh.close();
    await waitFor(() => c.texts().some((t) => t.includes(marker)), 'the marker record');
    await reader.stop();
    expect(c.records().filter((r) => r.text.includes(marker))).toHaveLength(1);
  });

  it('notes records lost when the cursor points before the oldest record still held', async () => {
    const c = collector();
    // a cursor from this boot whose next record was overwritten long ago: sequence numbers jump
    const probe = collector();
    const p = new KernelLogReader({ path: '/dev/kmsg', cursor: { seq: -1 }, onBatch: probe.onBatch, devicePollMs: 20 });
    await p.start();
    await waitFor(() => probe.records().length > 0, 'any record');
    await p.stop();
    const oldest = probe.records()[0]?.seq ?? 0;
    if (oldest < 2) return; // the ring buffer still holds the first records of this boot: nothing was lost
    const reader = new KernelLogReader({ path: '/dev/kmsg', cursor: { seq: 0 }, onBatch: c.onBatch, devicePollMs: 20 });
    await reader.start();
    await waitFor(() => c.batches.some((b) => b.lost > 0), 'the loss note');
    await reader.stop();
    expect(c.batches.find((b) => b.lost > 0)?.lost).toBe(oldest - 1);
  });
});
