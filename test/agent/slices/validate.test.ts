import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  isLabelValue,
  isQualifiedAttributeName,
  isSemver,
  toLabelValue,
  toSemver,
} from '../../../agent/slices/validate.js';
import { formatBytes, parseQuantity, quantitiesEqual } from '../../../src/kube/quantity.js';

describe('toSemver', () => {
  it('turns driver and CUDA versions into semver', () => {
    expect(toSemver('535.161.08')).toBe('535.161.8');
    expect(toSemver('590.48.01')).toBe('590.48.1');
    expect(toSemver('9.0')).toBe('9.0.0');
    expect(toSemver('12')).toBe('12.0.0');
    expect(toSemver('1.2.3-rc.1')).toBe('1.2.3-rc.1');
    expect(toSemver('N/A')).toBeUndefined();
    expect(toSemver('[N/A]')).toBeUndefined();
    expect(toSemver(undefined)).toBeUndefined();
  });

  it('never returns anything but valid semver (property)', () => {
    fc.assert(
      fc.property(fc.string(), (s) => {
        const v = toSemver(s);
        return v === undefined || isSemver(v);
      }),
    );
    fc.assert(
      fc.property(fc.array(fc.nat(99999), { minLength: 1, maxLength: 3 }), (parts) => {
        const v = toSemver(parts.map((p) => String(p).padStart(3, '0')).join('.'));
        return v !== undefined && v.split('.').map(Number).slice(0, parts.length).join() === parts.join();
      }),
    );
  });
});

describe('toLabelValue', () => {
  it('makes prose reasons into label values', () => {
    expect(toLabelValue('XID 79: GPU has fallen off the bus')).toBe('XID-79-GPU-has-fallen-off-the-bus');
    expect(toLabelValue('  ...  ')).toBe('');
    expect(toLabelValue('a'.repeat(100))).toHaveLength(63);
  });

  it('always yields a valid label value of at most 63 characters (property)', () => {
    fc.assert(fc.property(fc.string({ maxLength: 300 }), (s) => isLabelValue(toLabelValue(s))));
  });
});

describe('attribute names', () => {
  it('accepts identifiers and domain-qualified identifiers only', () => {
    expect(isQualifiedAttributeName('pcieSwitch')).toBe(true);
    expect(isQualifiedAttributeName('resource.kubernetes.io/pcieRoot')).toBe(true);
    expect(isQualifiedAttributeName('lockstep.dev/healthy')).toBe(true);
    expect(isQualifiedAttributeName('1abc')).toBe(false);
    expect(isQualifiedAttributeName('a'.repeat(33))).toBe(false);
    expect(isQualifiedAttributeName('Bad_Domain/x')).toBe(false);
    expect(isQualifiedAttributeName('dom.io/')).toBe(false);
  });
});

describe('quantities', () => {
  it('formats bytes in the shortest exact binary form', () => {
    expect(formatBytes(80 * 2 ** 30)).toBe('80Gi');
    expect(formatBytes(81559 * 2 ** 20)).toBe('81559Mi');
    expect(formatBytes(1000)).toBe('1000');
    expect(formatBytes(0)).toBe('0');
    expect(() => formatBytes(-1)).toThrow(/not a byte count/);
  });

  it('compares by value, not spelling', () => {
    expect(quantitiesEqual('80Gi', '85899345920')).toBe(true);
    expect(quantitiesEqual('1k', '1000')).toBe(true);
    expect(quantitiesEqual('1.5Gi', '1536Mi')).toBe(true);
    expect(quantitiesEqual('500m', '0.5')).toBe(true);
    expect(quantitiesEqual('1e3', '1k')).toBe(true);
    expect(quantitiesEqual('80Gi', '80G')).toBe(false);
    expect(parseQuantity('eighty')).toBeUndefined();
  });

  it('round-trips every byte count (property)', () => {
    fc.assert(
      fc.property(
        fc.nat({ max: Number.MAX_SAFE_INTEGER }),
        (n) => parseQuantity(formatBytes(n)) === BigInt(n) * 10n ** 12n,
      ),
    );
  });
});
