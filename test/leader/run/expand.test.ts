import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { expandArgs, expandReferences } from '../../../leader/run/expand.js';

const env: Record<string, string> = { RANK: '3', MASTER_ADDR: '10.0.0.1', EMPTY: '' };
const x = (s: string) => expandReferences(s, (n) => env[n]);

describe('$(VAR) expansion as the kubelet does it', () => {
  it('replaces defined references, also inside words and several per argument', () => {
    expect(x('--node-rank=$(RANK)')).toBe('--node-rank=3');
    expect(x('$(MASTER_ADDR):$(RANK)')).toBe('10.0.0.1:3');
    expect(x('a$(EMPTY)b')).toBe('ab');
  });

  it('leaves unknown references as written', () => {
    expect(x('$(NOPE)')).toBe('$(NOPE)');
    expect(x('$()')).toBe('$()');
  });

  it('turns $$ into $, so $$(VAR) stays a literal reference', () => {
    expect(x('$$(RANK)')).toBe('$(RANK)');
    expect(x('$$$(RANK)')).toBe('$3');
    expect(x('cost: $$5')).toBe('cost: $5');
  });

  it('keeps a $ before anything else, a trailing $, and an unclosed $(', () => {
    expect(x('$RANK')).toBe('$RANK');
    expect(x('price$')).toBe('price$');
    expect(x('$(RANK')).toBe('$(RANK');
    // the name runs to the first ')': "$(RANK" is not defined, so all of it stays
    expect(x('$($(RANK)')).toBe('$($(RANK)');
  });

  it('expands every argument separately', () => {
    expect(expandArgs(['--rank', '$(RANK)', '$(X)'], env)).toEqual(['--rank', '3', '$(X)']);
  });

  it('is the identity on strings without $', () => {
    fc.assert(
      fc.property(
        fc.string().filter((s) => !s.includes('$')),
        (s) => x(s) === s,
      ),
    );
  });

  it('with no variables defined and no references, only $$ changes anything', () => {
    const none = (s: string) => expandReferences(s, () => undefined);
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom('$', '(', 'a', ' ', 'Z') }), (s) => {
        // collapse $$ pairs left to right the way the expander scans
        let expected = '';
        for (let i = 0; i < s.length; i++) {
          if (s[i] === '$' && s[i + 1] === '$') {
            expected += '$';
            i++;
          } else if (s[i] === '$' && i + 1 < s.length) {
            expected += s[i]! + s[i + 1]!;
            i++;
          } else expected += s[i];
        }
        return none(s) === expected;
      }),
    );
  });

  it('substitutes exactly the value for any defined name', () => {
    fc.assert(
      fc.property(
        fc.stringMatching(/^[A-Z_][A-Z0-9_]{0,10}$/),
        fc.string().filter((v) => !v.includes(')')),
        fc.string().filter((s) => !s.includes('$')),
        (name, value, tail) =>
          expandReferences(`$(${name})${tail}`, (n) => (n === name ? value : undefined)) === value + tail,
      ),
    );
  });
});
