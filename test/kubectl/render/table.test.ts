import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { age, humanDuration } from '../../../src/kubectl/render/age.js';
import { healthColour, renderTable, useColour, visibleLength } from '../../../src/kubectl/render/table.js';

describe('renderTable', () => {
  const rows = [
    { name: 'gpu-0', health: 'Healthy', reason: undefined as string | undefined },
    { name: 'gpu-10', health: 'Unhealthy', reason: 'xid 79' },
  ];
  const columns = [
    { header: 'name', cell: (r: (typeof rows)[number]) => r.name },
    { header: 'health', cell: (r: (typeof rows)[number]) => r.health, colour: healthColour },
    { header: 'reason', cell: (r: (typeof rows)[number]) => r.reason },
    { header: 'wide', cell: () => 'w', wide: true },
  ];

  it('pads like kubectl: widest cell + 3, upper-case headers, <none>, last column unpadded', () => {
    expect(renderTable(rows, columns, { wide: false, headers: true, colour: false })).toBe(
      ['NAME     HEALTH      REASON', 'gpu-0    Healthy     <none>', 'gpu-10   Unhealthy   xid 79', ''].join('\n'),
    );
  });

  it('adds wide columns, drops headers, and keeps alignment with colour on', () => {
    const wide = renderTable(rows, columns, { wide: true, headers: false, colour: false });
    expect(wide.split('\n')[0]).toBe('gpu-0    Healthy     <none>   w');
    const coloured = renderTable(rows, columns, { wide: false, headers: true, colour: true });
    expect(coloured).toContain('\u001b[32mHealthy\u001b[0m     <none>');
    expect(coloured.split('\n').map(visibleLength)).toEqual(
      renderTable(rows, columns, { wide: false, headers: true, colour: false })
        .split('\n')
        .map((l) => l.length),
    );
  });

  it('prints nothing for no rows without headers, and a header line with', () => {
    expect(renderTable([], columns, { wide: false, headers: false, colour: false })).toBe('');
    expect(renderTable([], columns, { wide: false, headers: true, colour: false })).toBe('NAME   HEALTH   REASON\n');
  });

  it('colours only on a terminal without NO_COLOR', () => {
    expect(useColour(true, {})).toBe(true);
    expect(useColour(false, {})).toBe(false);
    expect(useColour(undefined, {})).toBe(false);
    expect(useColour(true, { NO_COLOR: '1' })).toBe(false);
    expect(useColour(true, { NO_COLOR: '' })).toBe(true);
  });
});

describe('humanDuration (kubectl AGE)', () => {
  it.each([
    [-5000, '<invalid>'],
    [-500, '0s'],
    [0, '0s'],
    [119_000, '119s'],
    [120_000, '2m'],
    [330_000, '5m30s'],
    [600_000, '10m'],
    [179 * 60_000, '179m'],
    [3 * 3_600_000, '3h'],
    [(3 * 60 + 20) * 60_000, '3h20m'],
    [47 * 3_600_000, '47h'],
    [(2 * 24 + 4) * 3_600_000, '2d4h'],
    [8 * 24 * 3_600_000, '8d'],
    [400 * 24 * 3_600_000, '400d'],
    [(3 * 365 + 20) * 24 * 3_600_000, '3y20d'],
    [9 * 365 * 24 * 3_600_000, '9y'],
  ])('%i ms → %s', (ms, text) => {
    expect(humanDuration(ms)).toBe(text);
  });

  it('always gives one or two units and never grows shorter as time passes within a unit', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 20 * 365 * 24 * 3_600_000 }), (ms) => {
        expect(humanDuration(ms)).toMatch(/^\d+[smhdy](\d+[smhd])?$/);
      }),
    );
    expect(age(undefined, new Date())).toBe('<unknown>');
  });
});
