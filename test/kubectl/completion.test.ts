import { describe, expect, it } from 'vitest';
import { type CompletionLookups, complete, formatCompletion, scopeOf } from '../../src/kubectl/completion.js';
import { COMPLETION_VERBS } from '../../src/kubectl/program.js';

const seen: unknown[] = [];
const lookups: CompletionLookups = {
  nodes: async (scope) => {
    seen.push(scope);
    return ['h100-a', 'h100-b', 'tpu-a'];
  },
  groups: async () => ['llama', 'mixtral'],
  namespaces: async () => ['default', 'ml'],
  contexts: () => ['prod', 'test'],
};

describe('complete', () => {
  it('offers verbs with descriptions', async () => {
    const c = await complete(['gr'], COMPLETION_VERBS, lookups);
    expect(c.candidates.map((x) => x.value)).toEqual(['groups', 'group']);
    expect(formatCompletion(c)).toMatch(/^groups\tmulti-host groups.*\ngroup\tone group and its members\n:4\n$/);
  });

  it('offers node names for devices and topo, group names for group, nothing after the argument', async () => {
    expect((await complete(['topo', 'h100'], COMPLETION_VERBS, lookups)).candidates.map((x) => x.value)).toEqual([
      'h100-a',
      'h100-b',
    ]);
    expect((await complete(['group', '-n', 'ml', ''], COMPLETION_VERBS, lookups)).candidates).toHaveLength(2);
    expect((await complete(['topo', 'h100-a', ''], COMPLETION_VERBS, lookups)).candidates).toEqual([]);
    expect((await complete(['pods', ''], COMPLETION_VERBS, lookups)).candidates).toEqual([]);
  });

  it('passes the typed scope flags to the lookups', async () => {
    seen.length = 0;
    await complete(['devices', '--context=prod', '--kubeconfig', '/k', '-A', ''], COMPLETION_VERBS, lookups);
    expect(seen).toEqual([{ allNamespaces: true, context: 'prod', kubeconfig: '/k' }]);
    expect(scopeOf(['-n', 'ml', '--namespace=x'])).toEqual({ allNamespaces: false, namespace: 'x' });
  });

  it('completes flags and flag values', async () => {
    const flags = await complete(['nodes', '--no'], COMPLETION_VERBS, lookups);
    expect(flags.candidates).toEqual([{ value: '--no-headers', description: 'omit table headers' }]);
    expect((await complete(['nodes', '-o', 'w'], COMPLETION_VERBS, lookups)).candidates).toEqual([{ value: 'wide' }]);
    expect((await complete(['nodes', '--output=j'], COMPLETION_VERBS, lookups)).candidates).toEqual([
      { value: '--output=json' },
      { value: '--output=jsonpath=' },
    ]);
    expect((await complete(['nodes', '-o', 'n'], COMPLETION_VERBS, lookups)).candidates).toEqual([{ value: 'name' }]);
    expect((await complete(['nodes', '-n', 'm'], COMPLETION_VERBS, lookups)).candidates).toEqual([{ value: 'ml' }]);
    expect((await complete(['nodes', '--context', ''], COMPLETION_VERBS, lookups)).candidates).toHaveLength(2);
    // a file name: let the shell complete it
    expect(await complete(['nodes', '--kubeconfig', ''], COMPLETION_VERBS, lookups)).toEqual({
      candidates: [],
      directive: 0,
    });
  });

  it('offers nothing, quietly, when the cluster cannot be asked', async () => {
    const failing: CompletionLookups = {
      ...lookups,
      nodes: async () => {
        throw new Error('connection refused');
      },
    };
    expect(await complete(['topo', ''], COMPLETION_VERBS, failing)).toEqual({ candidates: [], directive: 4 });
  });
});
