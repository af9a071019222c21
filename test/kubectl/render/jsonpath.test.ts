/** kubectl's JSONPath templates, cases in the shape of k8s.io/client-go/util/jsonpath's own tests (jsonpath_test.go). */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { executeTemplate, JsonPathError, parseTemplate } from '../../../src/kubectl/render/jsonpath.js';

const store = {
  kind: 'List',
  items: [
    { name: 'gpu-0', node: 'a', health: 'Healthy', numa: 0, labels: { 'app.kubernetes.io/name': 'x' } },
    { name: 'gpu-3', node: 'b', health: 'Unhealthy', numa: 1, reason: 'xid-79' },
    { name: 'nic-0', node: 'b', health: 'Healthy', numa: 1, holder: { pods: ['p-0', 'p-1'] } },
  ],
};

describe('jsonpath templates', () => {
  it.each([
    ['{.kind}', 'List'],
    ['kind={.kind}', 'kind=List'],
    ['{.items[0].name}', 'gpu-0'],
    ['{.items[-1].name}', 'nic-0'],
    ['{.items[*].name}', 'gpu-0 gpu-3 nic-0'],
    ['{.items[0:2].name}', 'gpu-0 gpu-3'],
    ['{.items[0,2].name}', 'gpu-0 nic-0'],
    ['{..reason}', 'xid-79'],
    ['{.items[?(@.health=="Unhealthy")].name}', 'gpu-3'],
    ['{.items[?(@.numa>0)].name}', 'gpu-3 nic-0'],
    ['{.items[?(@.reason)].name}', 'gpu-3'],
    ["{.items[0].labels['app.kubernetes.io/name']}", 'x'],
    ['{.items[0].labels.app\\.kubernetes\\.io/name}', 'x'],
    ['{.items[2].holder.pods}', '["p-0","p-1"]'],
    ['{.items[0].numa}', '0'],
    ['{.items[0].missing}', ''],
    ['{range .items[*]}{.node}/{.name}{"\\n"}{end}', 'a/gpu-0\nb/gpu-3\nb/nic-0\n'],
    ['{range .items[?(@.node=="b")]}[{.name}]{end}', '[gpu-3][nic-0]'],
    ['{.items[0].name}{"\\t"}{.items[0].node}', 'gpu-0\ta'],
    ['{.items[*]["name","node"]}', 'gpu-0 a gpu-3 b nic-0 b'],
  ])('%s', (template, printed) => {
    expect(executeTemplate(parseTemplate(template), store)).toBe(printed);
  });

  it.each(['{.items[0', '{range .items[*]}{.name}', '{end}', '{.items[?(@.x==)]}', '{.items[a:b]}'])(
    'refuses %s with a JsonPathError',
    (template) => {
      expect(() => parseTemplate(template)).toThrow(JsonPathError);
    },
  );

  it('never fails except with a JsonPathError, and never reads inherited properties', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), (template) => {
        try {
          const parsed = parseTemplate(template);
          return typeof executeTemplate(parsed, store) === 'string';
        } catch (err) {
          return err instanceof JsonPathError;
        }
      }),
    );
    expect(executeTemplate(parseTemplate('{.__proto__}{.constructor}{.items.length}'), store)).toBe('');
  });
});
