import { describe, expect, it } from 'vitest';
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
