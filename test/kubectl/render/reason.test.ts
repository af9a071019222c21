import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { xidMessage } from '../../../agent/health/xid-monitor.js';
import { REASON_WIDTH, ReasonCells, shortReason } from '../../../src/kubectl/render/reason.js';

// the message the agent's XID monitor really writes (same function, same hint shape)
const XID_MESSAGE = xidMessage(
  {
    xid: 79,
    since: '2026-11-22T05:00:00.000Z',
    count: 1,
    detail: 'NVRM: Xid (PCI:0000:9b:00): 79, pid=0, name=swapper, GPU has fallen off the bus.',
  },
  '0000:9b:00.0',
  'After a GPU reset, clear with: echo gpu-4 > /var/lib/lockstep/clear-xid',
);

describe('shortReason', () => {
  it.each([
    ['short reasons stay as they are', 'device gpu-3 unhealthy (xid 79)', 'device gpu-3 unhealthy (xid 79)'],
    ['line breaks become one line', 'engine exited\n  code 137\r\n(OOM)', 'engine exited code 137 (OOM)'],
    ['control characters cannot reach the terminal', 'bad\u001b[2Jthing', 'bad?[2Jthing'],
    ['a trailing full stop is dropped', 'gone.', 'gone'],
  ])('%s', (_what, input, shown) => {
    expect(shortReason(input).text).toBe(shown);
  });

  it('cuts at 120 characters with an ellipsis', () => {
    const text = `member 1: ${'x'.repeat(300)}`;
    const short = shortReason(text).text;
    expect(short).toHaveLength(REASON_WIDTH);
    expect(short.endsWith('…')).toBe(true);
  });

  it('takes the clear-XID instruction out of the line and reports its file', () => {
    const short = shortReason(XID_MESSAGE);
    expect(short.clearFile).toBe('/var/lib/lockstep/clear-xid');
    expect(short.text).not.toContain('clear with');
    expect(short.text.startsWith('XID 79 on 0000:9b:00.0: ')).toBe(true);
    expect(short.text.length).toBeLessThanOrEqual(REASON_WIDTH);
  });

  it('is always one line of at most 120 printable characters', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300, unit: 'binary' }), (text) => {
        const { text: short } = shortReason(text);
        // biome-ignore lint/suspicious/noControlCharactersInRegex: asserting none survive
        return short.length <= REASON_WIDTH && !/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/.test(short);
      }),
    );
  });
});

describe('ReasonCells', () => {
  it('prints the clear-XID hint once under a table, however many rows carried it', () => {
    const cells = new ReasonCells(false);
    const rows = [XID_MESSAGE, XID_MESSAGE.replace('gpu-4', 'gpu-5'), 'plain reason'].map((r) => cells.cell(r));
    expect(rows.every((r) => r !== undefined && !r.includes('clear with'))).toBe(true);
    const footer = cells.footer();
    expect(footer.match(/clear its XID fault/g)).toHaveLength(1);
    expect(footer).toContain('echo <device> > /var/lib/lockstep/clear-xid');
  });

  it('-o wide keeps the whole reason and needs no hint', () => {
    const cells = new ReasonCells(true);
    expect(cells.cell(XID_MESSAGE)).toBe(XID_MESSAGE);
    expect(cells.footer()).toBe('');
    expect(cells.cell(undefined)).toBeUndefined();
  });
});
