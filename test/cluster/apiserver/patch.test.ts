import { describe, expect, it } from 'vitest';
import { applyJsonPatch, applyMergePatch, applyStrategicMergePatch, PatchError } from './patch.js';

const pod = {
  metadata: {
    name: 'p',
    labels: { a: '1', b: '2' },
    finalizers: ['x'],
    ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name: 'n', uid: 'u1' }],
  },
  spec: {
    containers: [
      {
        name: 'main',
        image: 'a:1',
        env: [
          { name: 'A', value: '1' },
          { name: 'B', value: '2' },
        ],
        ports: [{ containerPort: 80 }],
      },
      { name: 'side', image: 's:1' },
    ],
    volumes: [{ name: 'v1', emptyDir: {} }],
    tolerations: [{ key: 't1' }],
  },
  status: {
    conditions: [
      { type: 'Ready', status: 'False' },
      { type: 'PodScheduled', status: 'True' },
    ],
  },
};

describe('JSON patch (RFC 6902)', () => {
  it('adds, replaces, removes, moves, copies and tests', () => {
    const out = applyJsonPatch(pod, [
      { op: 'test', path: '/metadata/name', value: 'p' },
      { op: 'add', path: '/metadata/labels/c', value: '3' },
      { op: 'replace', path: '/spec/containers/0/image', value: 'a:2' },
      { op: 'remove', path: '/metadata/labels/a' },
      { op: 'add', path: '/spec/containers/-', value: { name: 'third' } },
      { op: 'copy', from: '/metadata/labels/b', path: '/metadata/labels/d' },
      { op: 'move', from: '/metadata/labels/c', path: '/metadata/labels/e' },
      { op: 'add', path: '/metadata/annotations', value: { 'k~/x': 'y' } },
      { op: 'replace', path: '/metadata/annotations/k~0~1x', value: 'z' },
    ]) as typeof pod & { metadata: { annotations: Record<string, string> } };
    expect(out.metadata.labels).toEqual({ b: '2', d: '2', e: '3' });
    expect(out.spec.containers.map((c) => c.name)).toEqual(['main', 'side', 'third']);
    expect(out.spec.containers[0].image).toBe('a:2');
    expect(out.metadata.annotations).toEqual({ 'k~/x': 'z' });
    expect(pod.spec.containers[0].image).toBe('a:1');
  });
  it('fails a failed test and a missing path with a clear message', () => {
    expect(() => applyJsonPatch(pod, [{ op: 'test', path: '/metadata/name', value: 'q' }])).toThrow(
      'testing value /metadata/name failed',
    );
    expect(() => applyJsonPatch(pod, [{ op: 'remove', path: '/metadata/nope' }])).toThrow(PatchError);
    expect(() => applyJsonPatch(pod, [{ op: 'replace', path: '/spec/nope', value: 1 }])).toThrow('doc is missing key');
    expect(() => applyJsonPatch(pod, { op: 'add' })).toThrow('array of operations');
  });
});

describe('merge patch (RFC 7386)', () => {
  it('merges maps, replaces lists, deletes with null', () => {
    const out = applyMergePatch(pod, {
      metadata: { labels: { a: null, c: '3' } },
      spec: { containers: [{ name: 'only' }] },
    }) as typeof pod;
    expect(out.metadata.labels).toEqual({ b: '2', c: '3' });
    expect(out.spec.containers).toEqual([{ name: 'only' }]);
  });
});

describe('strategic merge patch', () => {
  it('merges containers by name, env by name, ports by containerPort, conditions by type, ownerReferences by uid', () => {
    const out = applyStrategicMergePatch(pod, {
      metadata: { ownerReferences: [{ apiVersion: 'v1', kind: 'Pod', name: 'o', uid: 'u2' }], finalizers: ['y'] },
      spec: {
        containers: [
          {
            name: 'main',
            image: 'a:2',
            env: [
              { name: 'B', value: 'two' },
              { name: 'C', value: '3' },
            ],
            ports: [{ containerPort: 81 }],
          },
        ],
        volumes: [{ name: 'v2', emptyDir: {} }],
        tolerations: [{ key: 't2' }],
      },
      status: { conditions: [{ type: 'Ready', status: 'True' }] },
    }) as typeof pod;
    expect(out.spec.containers.map((c) => c.name)).toEqual(['main', 'side']);
    expect(out.spec.containers[0].image).toBe('a:2');
    expect(out.spec.containers[0].env).toEqual([
      { name: 'A', value: '1' },
      { name: 'B', value: 'two' },
      { name: 'C', value: '3' },
    ]);
    expect(out.spec.containers[0].ports).toEqual([{ containerPort: 80 }, { containerPort: 81 }]);
    expect(out.spec.volumes.map((v) => v.name)).toEqual(['v1', 'v2']);
    expect(out.spec.tolerations).toEqual([{ key: 't2' }]);
    expect(out.status.conditions).toEqual([
      { type: 'Ready', status: 'True' },
      { type: 'PodScheduled', status: 'True' },
    ]);
    expect(out.metadata.ownerReferences.map((r) => r.uid)).toEqual(['u1', 'u2']);
    expect(out.metadata.finalizers).toEqual(['x', 'y']);
  });

  it('honours $patch: delete / replace, $setElementOrder, $deleteFromPrimitiveList and $retainKeys', () => {
    const out = applyStrategicMergePatch(pod, {
      metadata: { $deleteFromPrimitiveList: undefined, '$deleteFromPrimitiveList/finalizers': ['x'] },
      spec: {
        $setElementOrder: undefined,
        '$setElementOrder/containers': [{ name: 'side' }, { name: 'main' }],
        containers: [{ name: 'side', $patch: 'delete' }],
        volumes: [{ name: 'v1', $retainKeys: ['name', 'hostPath'], hostPath: { path: '/x' } }],
      },
      status: { $patch: 'replace', phase: 'Running' },
    }) as typeof pod & { status: { phase: string } };
    expect(out.spec.containers.map((c) => c.name)).toEqual(['main']);
    expect(out.metadata.finalizers).toEqual([]);
    expect(out.spec.volumes).toEqual([{ name: 'v1', hostPath: { path: '/x' } }]);
    expect(out.status).toEqual({ phase: 'Running' });

    const reordered = applyStrategicMergePatch(pod, {
      spec: { '$setElementOrder/containers': [{ name: 'side' }, { name: 'main' }] },
    }) as typeof pod;
    expect(reordered.spec.containers.map((c) => c.name)).toEqual(['side', 'main']);
  });
});
