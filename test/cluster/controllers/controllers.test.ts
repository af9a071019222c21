import { describe, expect, it } from 'vitest';
import type { Pod } from '../../../src/kube/types.js';
import { headlessRecords, hostsText, podForOrdinal, type StatefulSet } from './index.js';

const set: StatefulSet = {
  metadata: { name: 'web', namespace: 'ns', uid: 'set-uid' },
  spec: {
    replicas: 2,
    serviceName: 'web',
    selector: { matchLabels: { app: 'web' } },
    template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'c' }] } },
  },
};

const withStatus = (pod: Pod, ip: string, ready: boolean): Pod => ({
  ...pod,
  status: { phase: 'Running', podIP: ip, conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }] },
});

describe('StatefulSet pods', () => {
  it('names, labels, owner and DNS identity follow the real controller', () => {
    const pod = podForOrdinal(set, 1);
    expect(pod.metadata.name).toBe('web-1');
    expect(pod.metadata.labels).toMatchObject({
      app: 'web',
      'statefulset.kubernetes.io/pod-name': 'web-1',
      'apps.kubernetes.io/pod-index': '1',
    });
    expect(pod.metadata.labels?.['controller-revision-hash']).toMatch(/^web-[0-9a-f]{10}$/);
    expect(pod.metadata.ownerReferences).toEqual([
      {
        apiVersion: 'apps/v1',
        kind: 'StatefulSet',
        name: 'web',
        uid: 'set-uid',
        controller: true,
        blockOwnerDeletion: true,
      },
    ]);
    expect(pod.spec).toMatchObject({ hostname: 'web-1', subdomain: 'web' });
  });
});

describe('headless Service DNS', () => {
  const service = (publishNotReady: boolean) => ({
    metadata: { name: 'web', namespace: 'ns' },
    spec: { clusterIP: 'None', selector: { app: 'web' }, publishNotReadyAddresses: publishNotReady },
  });
  const pods = [
    withStatus(podForOrdinal(set, 0), '127.42.1.10', true),
    withStatus(podForOrdinal(set, 1), '127.42.1.11', false),
  ];

  it('names each pod <hostname>.<service>.<ns>.svc.cluster.local; not-ready pods only with publishNotReadyAddresses', () => {
    expect(headlessRecords([service(false)], pods)).toEqual([
      { name: 'web-0.web.ns.svc.cluster.local', address: '127.42.1.10' },
      { name: 'web.ns.svc.cluster.local', address: '127.42.1.10' },
    ]);
    expect(headlessRecords([service(true)], pods).map((r) => r.name)).toContain('web-1.web.ns.svc.cluster.local');
    expect(hostsText(headlessRecords([service(false)], pods))).toContain(
      '127.42.1.10 web-0.web.ns.svc.cluster.local\n',
    );
  });

  it('leaves out terminating pods, pods of other namespaces and Services with a cluster IP', () => {
    const terminating = { ...pods[0], metadata: { ...pods[0]?.metadata, deletionTimestamp: 'now' } } as Pod;
    expect(headlessRecords([service(true)], [terminating])).toEqual([]);
    expect(headlessRecords([{ ...service(true), metadata: { name: 'web', namespace: 'other' } }], pods)).toEqual([]);
    expect(
      headlessRecords([{ ...service(true), spec: { ...service(true).spec, clusterIP: '10.0.0.1' } }], pods),
    ).toEqual([]);
  });
});
