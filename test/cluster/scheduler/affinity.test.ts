import { describe, expect, it } from 'vitest';
import type { Node, Pod } from '../../../src/kube/types.js';
import { podAffinityAllows } from './affinity.js';

const ZONE = 'topology.kubernetes.io/zone';
const node = (name: string, zone?: string): Node => ({ metadata: { name, labels: zone ? { [ZONE]: zone } : {} } });
const [a1, a2, b1, bare] = [node('a1', 'a'), node('a2', 'a'), node('b1', 'b'), node('bare')];

function pod(name: string, labels: Record<string, string>, term?: Record<string, unknown>, namespace = 'ns'): Pod {
  return {
    metadata: { name, namespace, uid: name, labels },
    spec: {
      containers: [],
      ...(term
        ? {
            affinity: {
              podAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [{ topologyKey: ZONE, ...term }] },
            },
          }
        : {}),
    },
  } as unknown as Pod;
}

describe('required pod affinity (the InterPodAffinity filter)', () => {
  const byGroup = { labelSelector: { matchLabels: { g: 'x' } } };
  const byKey = { labelSelector: { matchLabels: { g: 'x' } }, matchLabelKeys: ['key'] };
  const placedX0 = [{ pod: pod('x0', { g: 'x', key: 'k0' }), node: a1 }];
  it.each([
    { name: 'no term: anywhere', incoming: pod('p', {}), on: bare, placed: [], want: true },
    {
      name: 'first of its kind, matching itself: any node with the key',
      incoming: pod('p', { g: 'x' }, byGroup),
      on: b1,
      placed: [],
      want: true,
    },
    {
      name: 'first of its kind: not a node without the key',
      incoming: pod('p', { g: 'x' }, byGroup),
      on: bare,
      placed: [],
      want: false,
    },
    {
      name: 'first, not matching itself: nowhere',
      incoming: pod('p', { g: 'y' }, byGroup),
      on: a1,
      placed: [],
      want: false,
    },
    { name: "a selected pod's domain", incoming: pod('p', { g: 'x' }, byGroup), on: a2, placed: placedX0, want: true },
    { name: 'another domain', incoming: pod('p', { g: 'x' }, byGroup), on: b1, placed: placedX0, want: false },
    {
      name: 'matchLabelKeys: same key value joins',
      incoming: pod('p', { g: 'x', key: 'k0' }, byKey),
      on: b1,
      placed: placedX0,
      want: false,
    },
    {
      name: 'matchLabelKeys: another key value starts its own',
      incoming: pod('p', { g: 'x', key: 'k1' }, byKey),
      on: b1,
      placed: placedX0,
      want: true,
    },
    {
      name: 'pods of other namespaces do not count',
      incoming: pod('p', { g: 'x' }, byGroup, 'other'),
      on: b1,
      placed: placedX0,
      want: true,
    },
    {
      name: 'unscheduled pods do not count',
      incoming: pod('p', { g: 'x' }, byGroup),
      on: b1,
      placed: [{ pod: pod('x0', { g: 'x' }), node: undefined }],
      want: true,
    },
    {
      name: 'matchExpressions NotIn',
      incoming: pod(
        'p',
        { g: 'x' },
        { labelSelector: { matchExpressions: [{ key: 'g', operator: 'NotIn', values: ['y'] }] } },
      ),
      on: b1,
      placed: placedX0,
      want: false,
    },
  ])('$name', ({ incoming, on, placed, want }) => {
    expect(podAffinityAllows(incoming, on, placed)).toBe(want);
  });
});
