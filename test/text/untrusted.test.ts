import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cleanName, cleanText, DEFAULT_TEXT_LIMIT, isPlainText, NAME_LIMIT } from '../../src/text/untrusted.js';

describe('cleanText', () => {
  it.each([
    ['a screen clear and a window title', '\u001b[2J\u001b]0;pwned\u0007rank 3', '?[2J?]0;pwned?rank 3'],
    ['a C1 control sequence introducer', 'a\u009b31mb', 'a?31mb'],
    ['a forged second line', 'exit 1\nerror: all good', 'exit 1 error: all good'],
    ['a carriage return that overwrites the line', 'bad\rgood', 'bad good'],
    ['a Trojan Source override', 'ok\u202egnp.exe', 'ok?gnp.exe'],
    ['a zero-width joiner and a BOM', 'we\u200db-1\ufeff', 'we?b-1?'],
    ['DEL and NUL', 'a\u007fb\u0000c', 'a?b?c'],
    ['plain text with accents and emoji', 'größe ✓ 🚀', 'größe ✓ 🚀'],
  ])('replaces %s', (_what, input, expected) => {
    expect(cleanText(input)).toBe(expected);
  });

  it('cuts a 100,000-character pod name to a name and says how much was left out', () => {
    const name = 'w'.repeat(100_000);
    expect(cleanName(name)).toBe(`${'w'.repeat(NAME_LIMIT)}…(+${100_000 - NAME_LIMIT} chars)`);
  });

  it('cuts a 100 KB error at the default limit', () => {
    const out = cleanText('e'.repeat(100 * 1024));
    expect(out.startsWith('e'.repeat(DEFAULT_TEXT_LIMIT))).toBe(true);
    expect(out.endsWith(`…(+${100 * 1024 - DEFAULT_TEXT_LIMIT} chars)`)).toBe(true);
  });

  it('never splits a surrogate pair at the cut', () => {
    expect(cleanText(`ab🚀cd`, 3)).toBe('ab…(+4 chars)');
  });

  it('never lets an escape, a control or a line break through, and stays bounded (property)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 600 }), fc.integer({ min: 1, max: 500 }), (s, limit) => {
        const out = cleanText(s, limit);
        expect(isPlainText(out)).toBe(true);
        // the marker adds at most "…(+NNNN chars)"
        expect(out.length).toBeLessThanOrEqual(limit + 16);
        expect(cleanText(out, Number.MAX_SAFE_INTEGER)).toBe(out);
      }),
    );
  });

  it('leaves plain text as it is', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[a-z0-9.\- :/]{0,200}$/), (s) => {
        expect(cleanText(s)).toBe(s);
      }),
    );
  });
});
