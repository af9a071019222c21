import { describe, expect, it } from 'vitest';
import { HEALTH_VERSIONS, type HealthServiceVersion, kubeletServices } from '../../../agent/kubeletplugin/protos.js';

/**
 * The camelCase names in memory change nothing on the wire: each kubelet message, serialised by the services the
 * plugin and the emulator use, is byte for byte what the .proto files' field numbers say (encoded by hand below:
 * fields in number order; protobufjs also writes a field the object sets to its default, such as `error: ''`, which
 * every protobuf decoder reads as unset), and those bytes decode to the same objects. So a real kubelet, which knows
 * only the snake_case .proto, reads what lockstep sends.
 */

/** protobuf wire types */
const VARINT = 0;
const LEN = 2;

function varint(value: number): number[] {
  const bytes: number[] = [];
  let rest = value;
  while (rest >= 0x80) {
    bytes.push((rest % 0x80) | 0x80);
    rest = Math.floor(rest / 0x80);
  }
  bytes.push(rest);
  return bytes;
}

const tag = (field: number, wireType: number) => varint(field * 8 + wireType);
const bytesField = (field: number, body: number[]) => [...tag(field, LEN), ...varint(body.length), ...body];
const str = (field: number, text: string) => bytesField(field, [...Buffer.from(text, 'utf8')]);
const num = (field: number, value: number) => [...tag(field, VARINT), ...varint(value)];

const UID = '0b6f3d2e-5c1a-4f7e-9d8b-2a4c6e8f0a1b';

/** Device (dra v1 and v1beta1): request_names 1, pool_name 2, device_name 3, cdi_device_ids 4, share_id 5 (v1). */
function deviceBytes(shareId?: string): number[] {
  return [
    ...str(1, 'gpu'),
    ...str(2, 'gpu-node-1'),
    ...str(3, 'gpu-0'),
    ...str(4, `k8s.lockstep.dev/claim=${UID}-gpu-0`),
    ...(shareId ? str(5, shareId) : []),
  ];
}

/** NodePrepareResourcesResponse: map claims = 1 (entry: key 1, value 2); NodePrepareResourceResponse: devices = 1. */
function prepareResponseBytes(shareId?: string): number[] {
  return bytesField(1, [...str(1, UID), ...bytesField(2, [...bytesField(1, deviceBytes(shareId)), ...str(2, '')])]);
}

const device = {
  requestNames: ['gpu'],
  poolName: 'gpu-node-1',
  deviceName: 'gpu-0',
  cdiDeviceIds: [`k8s.lockstep.dev/claim=${UID}-gpu-0`],
};

/** DeviceHealth: device 1 (pool_name 1, device_name 2), health 2, last_updated_time 3, timeout 4, message 5. */
const healthBytes = bytesField(1, [
  ...bytesField(1, [...str(1, 'gpu-node-1'), ...str(2, 'gpu-0')]),
  ...num(2, 2),
  ...num(3, 1_765_000_000),
  ...num(4, 60),
  ...str(5, 'XID 79'),
]);
const health = {
  devices: [
    {
      device: { poolName: 'gpu-node-1', deviceName: 'gpu-0' },
      health: 'UNHEALTHY',
      lastUpdatedTime: 1_765_000_000,
      healthCheckTimeoutSeconds: 60,
      message: 'XID 79',
    },
  ],
};

interface Method {
  responseSerialize: (value: unknown) => Buffer;
  responseDeserialize: (bytes: Buffer) => unknown;
  requestSerialize: (value: unknown) => Buffer;
  requestDeserialize: (bytes: Buffer) => unknown;
}

function method(service: object, name: string): Method {
  return (service as Record<string, Method>)[name] as Method;
}

describe('kubelet messages on the wire', () => {
  const services = kubeletServices();

  it.each([
    {
      name: 'PluginInfo',
      method: method(services.registration, 'GetInfo'),
      message: {
        type: 'DRAPlugin',
        name: 'lockstep.dev',
        endpoint: '/var/lib/kubelet/plugins/lockstep.dev/dra.sock',
        supportedVersions: ['v1.DRAPlugin', 'v1.DRAResourceHealth'],
      },
      bytes: [
        ...str(1, 'DRAPlugin'),
        ...str(2, 'lockstep.dev'),
        ...str(3, '/var/lib/kubelet/plugins/lockstep.dev/dra.sock'),
        ...str(4, 'v1.DRAPlugin'),
        ...str(4, 'v1.DRAResourceHealth'),
      ],
    },
    {
      name: 'v1 NodePrepareResourcesResponse with a share id',
      method: method(services.draV1, 'NodePrepareResources'),
      message: { claims: { [UID]: { devices: [{ ...device, shareId: 'share-1' }], error: '' } } },
      bytes: prepareResponseBytes('share-1'),
    },
    {
      name: 'v1beta1 NodePrepareResourcesResponse',
      method: method(services.draV1beta1, 'NodePrepareResources'),
      message: { claims: { [UID]: { devices: [device], error: '' } } },
      bytes: prepareResponseBytes(),
    },
    ...HEALTH_VERSIONS.map((version: HealthServiceVersion) => ({
      name: `${version} NodeWatchResourcesResponse`,
      method: method(services.health[version], 'NodeWatchResources'),
      message: health,
      bytes: healthBytes,
    })),
  ])('$name: the .proto field numbers, and back', ({ method: m, message, bytes }) => {
    expect([...m.responseSerialize(message)]).toEqual(bytes);
    expect(m.responseDeserialize(Buffer.from(bytes))).toEqual(message);
  });

  it('RegistrationStatus from the kubelet: plugin_registered (field 1) reads as pluginRegistered', () => {
    const m = method(services.registration, 'NotifyRegistrationStatus');
    expect(m.requestDeserialize(Buffer.from(num(1, 1)))).toEqual({ pluginRegistered: true, error: '' });
    expect([...m.requestSerialize({ pluginRegistered: false, error: 'refused' })]).toEqual([
      ...num(1, 0),
      ...str(2, 'refused'),
    ]);
  });
});
