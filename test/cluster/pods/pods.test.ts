import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PODS, resourcePath } from '../../../src/kube/resources.js';
import type { Pod } from '../../../src/kube/types.js';
import { POD_INDEX_LABEL, POD_NAME_LABEL, STATEFUL_SETS } from '../controllers/index.js';
import { startTestCluster, type TestCluster } from '../index.js';

const NS = 'pods-test';

async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const SCRIPT = [
  'echo "$POD_NAME $POD_NAMESPACE $POD_UID $POD_IP $NODE_NAME $SA" > /var/run/shared/env',
  'cat /var/run/secrets/lockstep/token > /var/run/shared/token-copy',
  'echo "$GREETING" > /var/run/shared/greeting',
  'trap "echo got SIGTERM; exit 0" TERM',
  'while true; do sleep 0.1; done',
].join('\n');

function statefulSet(replicas: number) {
  const env = (name: string, fieldPath: string) => ({ name, valueFrom: { fieldRef: { fieldPath } } });
  return {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: { name: 'web', namespace: NS },
    spec: {
      replicas,
      serviceName: 'web',
      podManagementPolicy: 'Parallel',
      selector: { matchLabels: { app: 'web' } },
      template: {
        metadata: { labels: { app: 'web' } },
        spec: {
          serviceAccountName: 'web',
          terminationGracePeriodSeconds: 5,
          initContainers: [
            {
              name: 'first',
              image: 'busybox',
              command: ['/bin/sh', '-c', 'echo first >> /var/run/shared/order'],
              volumeMounts: [{ name: 'shared', mountPath: '/var/run/shared' }],
            },
            {
              name: 'sidecar',
              image: 'busybox',
              restartPolicy: 'Always',
              command: ['/bin/sh', '-c', 'echo sidecar >> /var/run/shared/order; exec sleep 600'],
              volumeMounts: [{ name: 'shared', mountPath: '/var/run/shared' }],
            },
            {
              name: 'second',
              image: 'busybox',
              command: ['/bin/sh', '-c', 'echo second >> /var/run/shared/order'],
              volumeMounts: [{ name: 'shared', mountPath: '/var/run/shared' }],
            },
          ],
          containers: [
            {
              name: 'main',
              image: 'busybox',
              command: ['/bin/sh', '-c', SCRIPT],
              env: [
                env('POD_NAME', 'metadata.name'),
                env('POD_NAMESPACE', 'metadata.namespace'),
                env('POD_UID', 'metadata.uid'),
                env('POD_IP', 'status.podIP'),
                env('NODE_NAME', 'spec.nodeName'),
                env('SA', 'spec.serviceAccountName'),
                { name: 'GREETING', value: 'hello $(POD_NAME)' },
              ],
              volumeMounts: [
                { name: 'shared', mountPath: '/var/run/shared' },
                { name: 'token', mountPath: '/var/run/secrets/lockstep', readOnly: true },
              ],
            },
          ],
          volumes: [
            { name: 'shared', emptyDir: {} },
            {
              name: 'token',
              projected: { sources: [{ serviceAccountToken: { audience: 'lockstep', path: 'token' } }] },
            },
          ],
        },
      },
    },
  };
}

describe('pods that really run (StatefulSet controller-lite, pod runner, headless DNS)', () => {
  let cluster: TestCluster;
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pods-test-'));
    cluster = await startTestCluster({
      apiServer: { namespaces: [NS], podGracefulDeletion: true },
      workloads: { nodes: [{ name: 'node-a', kind: 'cpu-vm' }], dir },
    });
    cluster.apiServer.store.apply([
      { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'web', namespace: NS } },
      {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: 'web', namespace: NS },
        spec: { clusterIP: 'None', publishNotReadyAddresses: true, selector: { app: 'web' } },
      },
      statefulSet(2),
    ]);
  }, 60_000);

  afterAll(async () => {
    await cluster?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const getPod = (name: string) =>
    cluster.workloads?.client.get<Pod>(resourcePath(PODS, { namespace: NS, name })) as Promise<Pod>;
  const runningPod = (name: string) =>
    until(`${name} Running`, async () => {
      const pod = await getPod(name);
      return pod.status?.phase === 'Running' &&
        (pod.status.conditions ?? []).some((c) => c.type === 'ContainersReady' && c.status === 'True')
        ? pod
        : undefined;
    });
  const podDir = (pod: Pod) => {
    const runner = cluster.workloads?.node('node-a').runner;
    const logs = runner?.logsDir(pod.metadata.uid ?? '');
    if (!logs) throw new Error(`pod ${pod.metadata.name} is not running on node-a`);
    return join(logs, '..', 'volumes', 'shared');
  };

  it('creates <set>-<ordinal> pods with the controller labels and runs init, sidecar, main in order', async () => {
    const pod = await runningPod('web-0');
    expect(pod.metadata.labels?.[POD_NAME_LABEL]).toBe('web-0');
    expect(pod.metadata.labels?.[POD_INDEX_LABEL]).toBe('0');
    expect((pod.spec as { hostname?: string }).hostname).toBe('web-0');
    expect((pod.spec as { subdomain?: string }).subdomain).toBe('web');
    const shared = podDir(pod);
    const order = await until('order file', async () => {
      const text = await readFile(join(shared, 'order'), 'utf8').catch(() => '');
      return text.split('\n').length >= 4 ? text : undefined;
    });
    expect(order.trim().split('\n')).toEqual(['first', 'sidecar', 'second']);
    const init = (pod.status as { initContainerStatuses?: { name: string; state: Record<string, unknown> }[] })
      .initContainerStatuses;
    expect(init?.map((c) => [c.name, Object.keys(c.state)[0]])).toEqual([
      ['first', 'terminated'],
      ['sidecar', 'running'],
      ['second', 'terminated'],
    ]);
  });

  it('gives each pod its own loopback IP and the downward API, $(VAR) expansion and a lockstep-audience token', async () => {
    const [a, b] = await Promise.all([runningPod('web-0'), runningPod('web-1')]);
    const ipA = (a.status as { podIP?: string }).podIP ?? '';
    const ipB = (b.status as { podIP?: string }).podIP ?? '';
    expect(ipA).toMatch(/^127\./);
    expect(ipA).not.toBe(ipB);
    const shared = podDir(a);
    const env = await until('env file', () => readFile(join(shared, 'env'), 'utf8').catch(() => undefined));
    expect(env.trim()).toBe(`web-0 ${NS} ${a.metadata.uid} ${ipA} node-a web`);
    expect((await readFile(join(shared, 'greeting'), 'utf8')).trim()).toBe('hello web-0');
    const token = (await readFile(join(shared, 'token-copy'), 'utf8')).trim();
    const claims = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as {
      aud: string[];
      'kubernetes.io': { pod?: { name: string } };
    };
    expect(claims.aud).toEqual(['lockstep']);
    expect(claims['kubernetes.io'].pod?.name).toBe('web-0');
  });

  it('publishes <pod>.<svc>.<ns>.svc.cluster.local in the DNS hosts file', async () => {
    const a = await runningPod('web-0');
    const dns = cluster.workloads?.dns;
    await until('DNS record', () => (dns?.resolve(`web-0.web.${NS}`)[0] ? true : undefined));
    expect(dns?.resolve(`web-0.web.${NS}`)).toEqual([(a.status as { podIP?: string }).podIP]);
    const hosts = readFileSync(dns?.hostsFile ?? '', 'utf8');
    expect(hosts).toContain(`${(a.status as { podIP?: string }).podIP} web-0.web.${NS}.svc.cluster.local`);
  });

  it('terminates a deleted pod with SIGTERM and the controller recreates it under the same name', async () => {
    const before = await runningPod('web-1');
    const logs = cluster.workloads?.node('node-a').runner.logsDir(before.metadata.uid ?? '') ?? '';
    const pids = cluster.workloads?.node('node-a').runner.pids() ?? [];
    await cluster.workloads?.client.delete(resourcePath(PODS, { namespace: NS, name: 'web-1' }));
    await until('SIGTERM seen by the main container', async () =>
      (await readFile(join(logs, 'main.log'), 'utf8').catch(() => '')).includes('got SIGTERM') ? true : undefined,
    );
    const after = await until('web-1 recreated', async () => {
      const pod = await getPod('web-1').catch(() => undefined);
      return pod && pod.metadata.uid !== before.metadata.uid ? pod : undefined;
    });
    expect(after.metadata.labels?.[POD_INDEX_LABEL]).toBe('1');
    await runningPod('web-1');
    // the old pod's processes are gone
    const alive = pids.filter((pid) => {
      try {
        process.kill(pid, 0);
        return !(cluster.workloads?.node('node-a').runner.pids() ?? []).includes(pid);
      } catch {
        return false;
      }
    });
    expect(alive).toEqual([]);
  });

  it('restarts a main container that exits (restartPolicy Always) and counts it', async () => {
    const pod = await runningPod('web-0');
    const runner = cluster.workloads?.node('node-a').runner;
    // kill the main container's process group from outside, as an OOM kill would
    const status = runner?.status(pod.metadata.uid ?? '');
    expect(status?.containerStatuses[0]?.restartCount).toBe(0);
    const mainPid = runner?.containerPid(pod.metadata.uid ?? '', 'main');
    expect(mainPid).toBeGreaterThan(0);
    if (mainPid) process.kill(-mainPid, 'SIGKILL');
    const restarted = await until('restartCount 1 in the API', async () => {
      const p = await getPod('web-0');
      const main = (p.status as { containerStatuses?: { restartCount: number; state: Record<string, unknown> }[] })
        .containerStatuses?.[0];
      return main && main.restartCount === 1 && 'running' in main.state ? main : undefined;
    });
    expect(restarted.restartCount).toBe(1);
  });

  it('keeps StatefulSet status', async () => {
    const set = await until('status.replicas', async () => {
      const s = await cluster.workloads?.client.get<{ status?: { replicas?: number } }>(
        resourcePath(STATEFUL_SETS, { namespace: NS, name: 'web' }),
      );
      return s?.status?.replicas === 2 ? s : undefined;
    });
    expect(set.status?.replicas).toBe(2);
  });
});
