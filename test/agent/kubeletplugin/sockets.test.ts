import { describe, expect, it } from 'vitest';
import { isOwnSocketName, MAX_SOCKET_PATH, socketLayout } from '../../../agent/kubeletplugin/sockets.js';

describe('socketLayout', () => {
  it('uses the kubelet’s default paths, and the rolling-update names with a pod UID', () => {
    expect(socketLayout({ driver: 'lockstep.dev' })).toEqual({
      registryDir: '/var/lib/kubelet/plugins_registry',
      pluginDir: '/var/lib/kubelet/plugins/lockstep.dev',
      registrationSocket: '/var/lib/kubelet/plugins_registry/lockstep.dev-reg.sock',
      draSocket: '/var/lib/kubelet/plugins/lockstep.dev/dra.sock',
    });
    const rolling = socketLayout({ driver: 'lockstep.dev', podUid: '5f0c-uid' });
    expect(rolling.registrationSocket).toBe('/var/lib/kubelet/plugins_registry/lockstep.dev-5f0c-uid-reg.sock');
    expect(rolling.draSocket).toBe('/var/lib/kubelet/plugins/lockstep.dev/dra-5f0c-uid.sock');
  });

  it('refuses a socket path the kernel would refuse, saying why', () => {
    expect(() => socketLayout({ driver: 'lockstep.dev', pluginDir: `/tmp/${'x'.repeat(MAX_SOCKET_PATH)}` })).toThrow(
      /is longer than 107 bytes; choose a shorter directory/,
    );
  });

  it('knows which socket names belong to the driver', () => {
    expect(isOwnSocketName('lockstep.dev', 'registry', 'lockstep.dev-reg.sock')).toBe(true);
    expect(isOwnSocketName('lockstep.dev', 'registry', 'lockstep.dev-abc-reg.sock')).toBe(true);
    expect(isOwnSocketName('lockstep.dev', 'registry', 'gpu.nvidia.com-reg.sock')).toBe(false);
    expect(isOwnSocketName('lockstep.dev', 'registry', '.lockstep.dev-reg.sock')).toBe(false);
    expect(isOwnSocketName('lockstep.dev', 'plugin', 'dra.sock')).toBe(true);
    expect(isOwnSocketName('lockstep.dev', 'plugin', 'dra-abc.sock')).toBe(true);
    expect(isOwnSocketName('lockstep.dev', 'plugin', 'checkpoint.json')).toBe(false);
  });
});
