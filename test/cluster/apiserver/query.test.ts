import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiServer, startApiServer } from './index.js';
import { type ListQuery, listOptionErrors, queryBool } from './query.js';
import { rawRequest } from './raw-client.js';

describe('boolean query parameters as apimachinery decodes them', () => {
  it.each([
    ['watch=true', true],
    ['watch=True', true],
    ['watch=1', true],
    ['watch=yes', true],
    ['watch=', true],
    ['watch', true],
    ['watch=false', false],
    ['watch=FALSE', false],
    ['watch=False', false],
    ['watch=0', false],
    ['other=1', undefined],
  ])('%s → %s', (query, expected) => {
    expect(queryBool(new URLSearchParams(query), 'watch')).toBe(expected);
  });

  it('is false exactly for 0 and any casing of false', () => {
    fc.assert(
      fc.property(fc.string(), (value) => {
        const expected = !(value === '0' || value.toLowerCase() === 'false');
        expect(queryBool(new URLSearchParams({ watch: value }), 'watch')).toBe(expected);
      }),
    );
  });
});

describe('list and watch options refused as ValidateListOptions refuses them', () => {
  const base: ListQuery = { watch: false, allowWatchBookmarks: false };
  it.each<[string, Partial<ListQuery>, string[]]>([
    ['plain list', {}, []],
    ['list Exact with an rv', { resourceVersion: '5', resourceVersionMatch: 'Exact' }, []],
    [
      'match without rv',
      { resourceVersionMatch: 'Exact' },
      ['resourceVersionMatch is forbidden unless resourceVersion is provided'],
    ],
    [
      'match with continue',
      { resourceVersion: '5', resourceVersionMatch: 'NotOlderThan', continue: 'x' },
      ['resourceVersionMatch is forbidden when continue is provided'],
    ],
    [
      'Exact at 0',
      { resourceVersion: '0', resourceVersionMatch: 'Exact' },
      ['resourceVersionMatch "exact" is forbidden for resourceVersion "0"'],
    ],
    [
      'unknown match',
      { resourceVersion: '5', resourceVersionMatch: 'Newest' },
      ['Unsupported value: "Newest": supported values: "Exact", "NotOlderThan", ""'],
    ],
    ['sendInitialEvents on a list', { sendInitialEvents: true }, ['sendInitialEvents is forbidden for list']],
    [
      'watch with sendInitialEvents, no match',
      { watch: true, sendInitialEvents: true },
      ['sendInitialEvents requires setting resourceVersionMatch to NotOlderThan'],
    ],
    [
      'watch with sendInitialEvents and NotOlderThan',
      { watch: true, sendInitialEvents: true, resourceVersionMatch: 'NotOlderThan' },
      [],
    ],
    [
      'watch with a match, no sendInitialEvents',
      { watch: true, resourceVersionMatch: 'NotOlderThan' },
      ['resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided'],
    ],
  ])('%s', (_name, options, messages) => {
    const errors = listOptionErrors({ ...base, ...options });
    expect(
      errors.map((e) =>
        e.type === 'FieldValueNotSupported'
          ? `Unsupported value: ${JSON.stringify(e.value)}: supported values: ${(e.supported ?? []).map((s) => JSON.stringify(s)).join(', ')}`
          : e.detail,
      ),
    ).toEqual(messages);
  });
});

describe('list options on the wire', () => {
  let api: ApiServer;
  beforeAll(async () => {
    api = await startApiServer({ tls: false });
  });
  afterAll(() => api.stop());

  it('a watch with sendInitialEvents but no resourceVersionMatch is 422 ListOptions, as the real server', async () => {
    const r = await rawRequest(api, 'GET', '/api/v1/namespaces/default/configmaps?watch=1&sendInitialEvents=true');
    expect(r.status).toBe(422);
    expect(r.json).toMatchObject({
      reason: 'Invalid',
      message:
        'ListOptions.meta.k8s.io "" is invalid: resourceVersionMatch: Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan',
    });
  });

  it('a list at a resourceVersion the store has not reached is 504 Too large resource version', async () => {
    const r = await rawRequest(api, 'GET', '/api/v1/namespaces/default/configmaps?resourceVersion=999999');
    expect(r.status).toBe(504);
    expect(r.json).toMatchObject({
      reason: 'Timeout',
      message: expect.stringMatching(/^Too large resource version: 999999, current: \d+$/),
    });
  });
});
