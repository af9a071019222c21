import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { matchesFields, matchesLabels, parseFieldSelector, parseLabelSelector, SelectorError } from './selectors.js';

describe('label selectors', () => {
  const labels = { app: 'vllm', tier: 'gpu', 'lockstep.dev/group': 'g1' };
  it.each([
    ['app=vllm', true],
    ['app==vllm', true],
    ['app!=vllm', false],
    ['app!=other', true],
    ['missing!=x', true],
    ['app in (vllm, sglang)', true],
    ['app notin (vllm)', false],
    ['tier', true],
    ['!tier', false],
    ['!missing', true],
    ['lockstep.dev/group=g1,tier=gpu', true],
    ['lockstep.dev/group=g1,tier=cpu', false],
    ['', true],
  ])('%s → %s', (sel, expected) => {
    expect(matchesLabels(parseLabelSelector(sel), labels)).toBe(expected);
  });

  it.each(['app=', 'a b', 'app=a b', '=x', 'app in (a', ',', 'app=-x'])('rejects %j with a clear error', (sel) => {
    if (sel === 'app=') {
      // An empty value is valid: "app=" selects objects whose label is empty.
      expect(matchesLabels(parseLabelSelector(sel), { app: '' })).toBe(true);
      return;
    }
    expect(() => parseLabelSelector(sel)).toThrow(SelectorError);
  });

  it('property: a selector built from an object’s own labels always matches it', () => {
    const key = fc.stringMatching(/^[a-z]([a-z0-9.-]{0,10}[a-z0-9])?$/);
    const value = fc.stringMatching(/^([a-z0-9]([a-z0-9_.-]{0,8}[a-z0-9])?)?$/);
    fc.assert(
      fc.property(fc.dictionary(key, value, { minKeys: 1, maxKeys: 5 }), (ls) => {
        const sel = Object.entries(ls)
          .map(([k, v]) => `${k}=${v}`)
          .join(',');
        expect(matchesLabels(parseLabelSelector(sel), ls)).toBe(true);
        const negated = Object.keys(ls)
          .map((k) => `!${k}`)
          .join(',');
        expect(matchesLabels(parseLabelSelector(negated), ls)).toBe(false);
      }),
    );
  });

  it('property: the parser never throws anything but SelectorError', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 30 }), (text) => {
        try {
          parseLabelSelector(text);
        } catch (err) {
          expect(err).toBeInstanceOf(SelectorError);
        }
      }),
    );
  });
});

describe('field selectors', () => {
  const fields: Record<string, string> = { 'metadata.name': 'p1', 'spec.nodeName': 'node-a' };
  it.each([
    ['spec.nodeName=node-a', true],
    ['spec.nodeName==node-a', true],
    ['spec.nodeName!=node-a', false],
    ['metadata.name=p1,spec.nodeName=node-b', false],
    ['spec.nodeName=', false],
  ])('%s → %s', (sel, expected) => {
    expect(matchesFields(parseFieldSelector(sel), (f) => fields[f])).toBe(expected);
  });
  it('rejects a term without an operator', () => {
    expect(() => parseFieldSelector('spec.nodeName')).toThrow(SelectorError);
  });
});
