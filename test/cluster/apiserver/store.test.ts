import { describe, expect, it } from 'vitest';
import { ExpiredError, Store, type Watcher } from './store.js';
import type { KubeObject } from './types.js';

function obj(name: string, ns?: string, labels?: Record<string, string>): KubeObject {
  return { metadata: { name, namespace: ns, labels } };
}

function collector(filter: (o: KubeObject) => boolean = () => true) {
  const seen: [string, string, string][] = [];
  const w: Watcher = {
    matches: filter,
    send: (type, o) => seen.push([type, o.metadata.name ?? '', o.metadata.resourceVersion ?? '']),
  };
  return { w, seen };
}

describe('Store', () => {
  it('keeps one global resourceVersion across resources', () => {
    const s = new Store(100);
    expect(s.put('pods', obj('a', 'ns')).metadata.resourceVersion).toBe('1');
    expect(s.put('nodes', obj('n')).metadata.resourceVersion).toBe('2');
    expect(s.remove('pods', 'ns', 'a')?.metadata.resourceVersion).toBe('3');
    expect(s.resourceVersion).toBe(3);
  });

  it('replays a resource’s events after a resourceVersion, and only that resource’s', () => {
    const s = new Store(100);
    s.put('pods', obj('a', 'ns'));
    const rv = s.resourceVersion;
    s.put('nodes', obj('n'));
    s.put('pods', obj('a', 'ns'));
    s.remove('pods', 'ns', 'a');
    const c = collector();
    s.watch('pods', c.w, rv);
    expect(c.seen).toEqual([
      ['MODIFIED', 'a', '3'],
      ['DELETED', 'a', '4'],
    ]);
  });

  it('answers Expired for a resourceVersion older than the bounded history, through many trims', () => {
    const s = new Store(100);
    for (let i = 0; i < 3000; i++) s.put('cm', obj(`o${i % 7}`, 'ns'));
    expect(s.oldestWatchable).toBe(2900);
    expect(() => s.watch('cm', collector().w, 2899)).toThrow(ExpiredError);
    const c = collector();
    s.watch('cm', c.w, 2900);
    expect(c.seen).toHaveLength(100);
    expect(c.seen[0][2]).toBe('2901');
    s.compact();
    expect(() => s.watch('cm', collector().w, 2999)).toThrow('too old resource version: 2999 (3001)');
  });

  it('turns a change that leaves a selector into DELETED and one that enters it into ADDED', () => {
    const s = new Store(100);
    const c = collector((o) => o.metadata.labels?.app === 'x');
    s.watch('pods', c.w);
    s.put('pods', obj('p', 'ns', { app: 'y' }));
    s.put('pods', obj('p', 'ns', { app: 'x' }));
    s.put('pods', obj('p', 'ns', { app: 'x' }));
    s.put('pods', obj('p', 'ns', { app: 'y' }));
    expect(c.seen.map(([t]) => t)).toEqual(['ADDED', 'MODIFIED', 'DELETED']);
  });

  it('lists in key order by namespace, resumes after a key, and indexes owners', () => {
    const s = new Store(100);
    for (const [n, ns] of [
      ['b', 'x'],
      ['a', 'y'],
      ['c', 'x'],
    ])
      s.put('pods', obj(n, ns));
    expect(s.list('pods').map((o) => `${o.metadata.namespace}/${o.metadata.name}`)).toEqual(['x/b', 'x/c', 'y/a']);
    expect(s.list('pods', 'x').map((o) => o.metadata.name)).toEqual(['b', 'c']);
    expect(s.list('pods', undefined, 'x/b').map((o) => o.metadata.name)).toEqual(['c', 'a']);
    s.put('slices', {
      metadata: { name: 's', ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name: 'n', uid: 'u1' }] },
    });
    expect(s.dependents('u1')).toEqual([{ resource: 'slices', name: 's' }]);
    s.remove('slices', undefined, 's');
    expect(s.dependents('u1')).toEqual([]);
  });
});
