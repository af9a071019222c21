/**
 * The kubelet services as loaded from src/proto: the three health versions come from one .proto (their messages are
 * the same, FACTS §11) and differ only in the full method path the kubelet calls, which must be upstream's exactly —
 * the emulator uses the same definitions, so a wrong path would not show in the end-to-end tests.
 */
import { describe, expect, it } from 'vitest';
import { HEALTH_VERSIONS, kubeletServices } from '../../../agent/kubeletplugin/protos.js';

describe('kubelet services', () => {
  it.each([
    ['v1.DRAResourceHealth', '/v1.DRAResourceHealth/NodeWatchResources'],
    ['v1beta1.DRAResourceHealth', '/v1beta1.DRAResourceHealth/NodeWatchResources'],
    ['v1alpha1.DRAResourceHealth', '/v1alpha1.DRAResourceHealth/NodeWatchResources'],
  ] as const)('health %s is served at %s, a server stream', (version, path) => {
    const method = kubeletServices().health[version].NodeWatchResources;
    expect(method?.path).toBe(path);
    expect(method?.requestStream).toBe(false);
    expect(method?.responseStream).toBe(true);
  });

  it('every health version puts the same bytes on the wire for the same message', () => {
    const message = {
      devices: [
        {
          device: { poolName: 'gpu-node-1', deviceName: 'gpu-0' },
          health: 'UNHEALTHY',
          lastUpdatedTime: 1_790_000_000,
          healthCheckTimeoutSeconds: 60,
          message: 'XID 79: GPU has fallen off the bus',
        },
      ],
    };
    const bytes = HEALTH_VERSIONS.map((v) =>
      Buffer.from(kubeletServices().health[v].NodeWatchResources!.responseSerialize(message)).toString('hex'),
    );
    expect(new Set(bytes).size).toBe(1);
    // field 1 (devices, length-delimited): the message is really encoded, not empty
    expect(bytes[0]!.startsWith('0a')).toBe(true);
  });

  it('DRA v1 and v1beta1 stay apart: v1beta1 has no share_id', () => {
    const { draV1, draV1beta1 } = kubeletServices();
    expect(draV1.NodePrepareResources?.path).toBe('/k8s.io.kubelet.pkg.apis.dra.v1.DRAPlugin/NodePrepareResources');
    expect(draV1beta1.NodePrepareResources?.path).toBe(
      '/k8s.io.kubelet.pkg.apis.dra.v1beta1.DRAPlugin/NodePrepareResources',
    );
    const response = {
      claims: { uid: { devices: [{ requestNames: ['gpu'], poolName: 'p', deviceName: 'd', shareId: 's-1' }] } },
    };
    const v1 = Buffer.from(draV1.NodePrepareResources!.responseSerialize(response));
    const v1beta1 = Buffer.from(draV1beta1.NodePrepareResources!.responseSerialize(response));
    expect(v1.includes(Buffer.from('s-1'))).toBe(true);
    expect(v1beta1.includes(Buffer.from('s-1'))).toBe(false);
    // the caller's response is left as it was (the driver may hold it for the next, idempotent prepare)
    expect(response.claims.uid.devices[0]?.shareId).toBe('s-1');
  });

  it('DRA v1beta1 reads a response as a v1beta1 kubelet does: a share_id sent by a v1 peer is not seen', () => {
    const { draV1, draV1beta1 } = kubeletServices();
    const response = {
      claims: {
        uid: {
          devices: [{ requestNames: [], poolName: 'p', deviceName: 'd', cdiDeviceIds: [], shareId: 's-1' }],
          error: '',
        },
      },
    };
    const v1Bytes = draV1.NodePrepareResources!.responseSerialize(response);
    expect(draV1beta1.NodePrepareResources!.responseDeserialize(v1Bytes)).toEqual({
      claims: { uid: { devices: [{ requestNames: [], poolName: 'p', deviceName: 'd', cdiDeviceIds: [] }], error: '' } },
    });
    // everything else is v1's: the same bytes for the same request
    const request = { claims: [{ namespace: 'ns', uid: 'u', name: 'c' }] };
    expect(Buffer.from(draV1beta1.NodePrepareResources!.requestSerialize(request))).toEqual(
      Buffer.from(draV1.NodePrepareResources!.requestSerialize(request)),
    );
  });
});
