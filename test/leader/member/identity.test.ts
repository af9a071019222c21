import { describe, expect, it } from 'vitest';
import { detectDevices, parseOrdinal, rankHint } from '../../../leader/member/identity.js';
import { locateCoordinator, ownFqdn, splitHostPort } from '../../../leader/member/locate.js';

describe('rank hints', () => {
  it('reads StatefulSet ordinals from pod names', () => {
    expect(parseOrdinal('web-12')).toEqual({ base: 'web', ordinal: 12 });
    expect(parseOrdinal('vllm-0-3')).toEqual({ base: 'vllm-0', ordinal: 3 });
    expect(parseOrdinal('web-7d9f8b-x2x4z')).toBeUndefined();
    expect(parseOrdinal('web-01')).toBeUndefined();
  });

  it('prefers --rank, then LWS_WORKER_INDEX, JOB_COMPLETION_INDEX, then the ordinal', () => {
    expect(rankHint(5, true, { LWS_WORKER_INDEX: '2' }, 'web-1')).toEqual({ rank: 5, source: '--rank' });
    expect(rankHint(2, false, { LWS_WORKER_INDEX: '2' }, 'web-1')).toEqual({ rank: 2, source: 'LWS_WORKER_INDEX=2' });
    expect(rankHint(undefined, false, { JOB_COMPLETION_INDEX: '4' }, 'x')).toEqual({
      rank: 4,
      source: 'JOB_COMPLETION_INDEX=4',
    });
    expect(rankHint(undefined, false, {}, 'web-1')).toEqual({ rank: 1, source: 'ordinal of pod web-1' });
    expect(rankHint(undefined, false, {}, 'web-abc')).toBeUndefined();
  });
});

describe('devices', () => {
  it('takes an explicit list, then NVIDIA_VISIBLE_DEVICES, then /dev nodes', () => {
    expect(detectDevices('0,1', {}, [])).toEqual([
      { id: '0', kind: 'gpu' },
      { id: '1', kind: 'gpu' },
    ]);
    expect(detectDevices(undefined, { NVIDIA_VISIBLE_DEVICES: 'GPU-a,GPU-b' }, ['nvidia0']).map((d) => d.id)).toEqual([
      'GPU-a',
      'GPU-b',
    ]);
    expect(
      detectDevices(undefined, { NVIDIA_VISIBLE_DEVICES: 'all' }, ['nvidia10', 'nvidia2', 'nvidiactl']).map(
        (d) => d.id,
      ),
    ).toEqual(['nvidia2', 'nvidia10']);
    expect(detectDevices(undefined, {}, ['accel0', 'accel1']).map((d) => d.kind)).toEqual(['tpu', 'tpu']);
    expect(detectDevices(undefined, { NVIDIA_VISIBLE_DEVICES: 'void' }, [])).toEqual([]);
  });
});

describe('finding the coordinator', () => {
  const hosts = [
    '127.0.0.1 localhost',
    '# Kubernetes-managed hosts file.',
    '10.4.0.7\tweb-3.web.prod.svc.cluster.local\tweb-3',
  ].join('\n');

  it('uses an explicit address, with or without a port', () => {
    expect(locateCoordinator({ leaderAddress: 'lead.ns:9000', port: 7470 })).toMatchObject({
      host: 'lead.ns',
      port: 9000,
    });
    expect(
      locateCoordinator({ leaderAddress: 'vllm-0.vllm.ns', leaderAddressSource: 'LWS_LEADER_ADDRESS', port: 7470 }),
    ).toEqual({ host: 'vllm-0.vllm.ns', port: 7470, source: 'LWS_LEADER_ADDRESS' });
    expect(splitHostPort('[::1]:80', 1)).toEqual({ host: '::1', port: 80 });
  });

  it("derives ordinal 0's DNS name from the pod's own name in /etc/hosts", () => {
    expect(ownFqdn('web-3', hosts)).toBe('web-3.web.prod.svc.cluster.local');
    expect(locateCoordinator({ port: 7470, podName: 'web-3', hostsText: hosts })).toEqual({
      host: 'web-0.web.prod.svc.cluster.local',
      port: 7470,
      source: 'ordinal 0 of web',
    });
    expect(locateCoordinator({ port: 7470, podName: 'web-3', hostsText: '' }).host).toBe('web-0');
  });

  it("uses the pod's hostname when its name has a random suffix (JobSet)", () => {
    const jobset = '10.4.0.9 train-workers-0-2.train.ml.svc.cluster.local train-workers-0-2';
    expect(
      locateCoordinator({
        port: 7470,
        podName: 'train-workers-0-2-x8k2p',
        hostname: 'train-workers-0-2',
        hostsText: jobset,
      }),
    ).toEqual({
      host: 'train-workers-0-0.train.ml.svc.cluster.local',
      port: 7470,
      source: 'ordinal 0 of train-workers-0',
    });
  });

  it('says what to do when nothing tells where the coordinator is', () => {
    expect(() => locateCoordinator({ port: 7470, podName: 'api-7d9f8b-x2x4z' })).toThrow(
      /pass --leader-address .* set LWS_LEADER_ADDRESS, or run in a StatefulSet\/JobSet pod/,
    );
  });
});
