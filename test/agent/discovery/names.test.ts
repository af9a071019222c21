import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { normaliseBusId } from '../../../agent/discovery/bdf.js';
import { isDnsLabel, migName, nicName, nicNameForInterface } from '../../../agent/discovery/names.js';

describe('device names', () => {
  it('nic names from PCI addresses', () => {
    expect(nicName('0000:1a:00.0')).toBe('nic-0000-1a-00-0');
    expect(nicName('0000:1a:00.0', 1)).toBe('nic-0000-1a-00-0-p1');
    expect(migName('gpu-0', 3, 0)).toBe('gpu-0-mig-3-0');
  });

  it('interface names of any bytes give DNS labels, equal for equal names and distinct for distinct ones', () => {
    expect(nicNameForInterface('eth0')).toMatch(/^nic-eth0-[0-9a-f]{8}$/);
    expect(nicNameForInterface('€€€')).toMatch(/^nic-[0-9a-f]{8}$/);
    fc.assert(
      fc.property(
        fc.string({ minLength: 1, maxLength: 64, unit: 'binary' }),
        fc.string({ minLength: 1, maxLength: 64 }),
        (a, b) => {
          expect(isDnsLabel(nicNameForInterface(a))).toBe(true);
          expect(nicNameForInterface(a)).toBe(nicNameForInterface(a));
          if (a !== b) expect(nicNameForInterface(a)).not.toBe(nicNameForInterface(b));
        },
      ),
      { numRuns: 500 },
    );
  });

  it('normalises nvidia-smi and lspci bus ids to the sysfs spelling', () => {
    expect(normaliseBusId('00000000:19:00.0')).toBe('0000:19:00.0');
    expect(normaliseBusId('00000000:C1:00.0')).toBe('0000:c1:00.0');
    expect(normaliseBusId('00000001:00:1E.0')).toBe('0001:00:1e.0');
    expect(normaliseBusId('19:00.0')).toBe('0000:19:00.0');
    expect(normaliseBusId('GPU-19')).toBeUndefined();
    expect(normaliseBusId('100000000:19:00.0')).toBeUndefined();
  });
});
