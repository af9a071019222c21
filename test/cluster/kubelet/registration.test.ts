import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Server, ServerCredentials, type UntypedServiceImplementation } from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { kubeletServices, type PluginInfo, type RegistrationStatus } from '../../../agent/kubeletplugin/protos.js';
import { chooseDraVersion, DraPlugins } from './dra-plugins.js';
import { shortTempDir } from './harness.js';
import { RegistrationWatcher } from './registration-watcher.js';

const servers: Server[] = [];
const watchers: RegistrationWatcher[] = [];
const stores: DraPlugins[] = [];
afterEach(async () => {
  for (const watcher of watchers.splice(0)) await watcher.stop();
  for (const store of stores.splice(0)) store.stop();
  for (const server of servers.splice(0)) server.forceShutdown();
});

/** A registration socket that answers GetInfo with `info` (or never, with `hang`) and records the verdicts. */
async function fakePlugin(path: string, info: PluginInfo, hang = false): Promise<RegistrationStatus[]> {
  const notes: RegistrationStatus[] = [];
  const server = new Server();
  const implementation: UntypedServiceImplementation = {
    GetInfo: (_call: unknown, callback: (e: null, v: PluginInfo) => void) => {
      if (!hang) callback(null, info);
    },
    NotifyRegistrationStatus: (call: { request: RegistrationStatus }, callback: (e: null, v: object) => void) => {
      notes.push(call.request);
      callback(null, {});
    },
  };
  server.addService(kubeletServices().registration, implementation);
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(`unix:${path}`, ServerCredentials.createInsecure(), (error) =>
      error ? reject(error) : resolve(),
    ),
  );
  servers.push(server);
  return notes;
}

async function watch(dir: string): Promise<{ watcher: RegistrationWatcher; store: DraPlugins }> {
  const store = new DraPlugins({
    onWipe: () => undefined,
    onHealth: () => undefined,
    onHealthStreamEnd: () => undefined,
    healthRetryMs: 60_000,
  });
  const watcher = new RegistrationWatcher({ dir, handlers: { DRAPlugin: store }, pollMs: 20, retryMs: 60_000 });
  watchers.push(watcher);
  stores.push(store);
  return { watcher, store };
}

const info = (overrides: Partial<PluginInfo>): PluginInfo => ({
  type: 'DRAPlugin',
  name: 'lockstep.dev',
  endpoint: '/var/lib/kubelet/plugins/lockstep.dev/dra.sock',
  supportedVersions: ['v1.DRAPlugin'],
  ...overrides,
});

describe('registration (kubelet side)', () => {
  it('validates, registers and notifies; refusals carry the kubelet’s error text', async () => {
    const dir = await shortTempDir('rg-');
    const good = await fakePlugin(
      join(dir, 'a-reg.sock'),
      info({
        endpoint: join(dir, 'a.sock'),
        supportedVersions: ['v9.DRAPlugin', 'v1beta1.DRAPlugin', 'v1.DRAPlugin'],
      }),
    );
    const empty = await fakePlugin(join(dir, 'b-reg.sock'), info({ name: 'b.dev', supportedVersions: [] }));
    const unknown = await fakePlugin(
      join(dir, 'c-reg.sock'),
      info({ name: 'c.dev', supportedVersions: ['v1alpha4.Node'] }),
    );
    const wrongType = await fakePlugin(join(dir, 'd-reg.sock'), info({ type: 'CSIPlugin', name: 'd.dev' }));
    const { watcher, store } = await watch(dir);
    await watcher.scanNow();
    expect(good).toEqual([{ pluginRegistered: true, error: '' }]);
    // First DRAPlugin entry the kubelet knows wins: v1beta1 here, although v1 is listed later.
    expect(store.list()).toEqual([
      expect.objectContaining({ driver: 'lockstep.dev', version: 'v1beta1.DRAPlugin', endpoint: join(dir, 'a.sock') }),
    ]);
    expect(empty).toEqual([
      {
        pluginRegistered: false,
        error: `invalid supported gRPC versions of DRA driver plugin b.dev at endpoint /var/lib/kubelet/plugins/lockstep.dev/dra.sock: empty list of supported gRPC services (aka supported versions)`,
      },
    ]);
    expect(unknown[0]?.error).toMatch(
      /none of services supported by the plugin \(\["v1alpha4.Node"\]\) are supported by the kubelet/,
    );
    expect(wrongType[0]).toEqual({
      pluginRegistered: false,
      error: `no handler registered for plugin type: CSIPlugin at socket ${join(dir, 'd-reg.sock')}`,
    });
  });

  it('skips dot-files and non-sockets; an empty endpoint means the registration socket itself', async () => {
    const dir = await shortTempDir('rg-');
    await writeFile(join(dir, 'plain-reg.sock'), 'not a socket');
    await mkdir(join(dir, 'sub.sock'));
    const hidden = await fakePlugin(join(dir, '.hidden-reg.sock'), info({ name: 'hidden.dev' }));
    await fakePlugin(join(dir, 'self-reg.sock'), info({ endpoint: '' }));
    const { watcher, store } = await watch(dir);
    await watcher.scanNow();
    expect(hidden).toEqual([]);
    expect(watcher.outcomes().map((outcome) => outcome.socket)).toEqual([join(dir, 'self-reg.sock')]);
    expect(store.list()[0]?.endpoint).toBe(join(dir, 'self-reg.sock'));
  });

  it('GetInfo has a 1 s deadline: a plugin that never answers is not registered and not notified', async () => {
    const dir = await shortTempDir('rg-');
    const notes = await fakePlugin(join(dir, 'slow-reg.sock'), info({}), true);
    const { watcher, store } = await watch(dir);
    await watcher.scanNow();
    expect(notes).toEqual([]);
    expect(store.list()).toEqual([]);
    expect(watcher.outcomes()[0]?.error).toMatch(/GetInfo failed: 4 DEADLINE_EXCEEDED/);
  });

  it('one endpoint cannot be registered twice for a driver; removing the socket de-registers', async () => {
    const dir = await shortTempDir('rg-');
    const endpoint = join(dir, 'dra.sock');
    await fakePlugin(join(dir, 'one-reg.sock'), info({ endpoint }));
    const second = await fakePlugin(join(dir, 'two-reg.sock'), info({ endpoint }));
    const { watcher, store } = await watch(dir);
    await watcher.scanNow();
    expect(second[0]?.error).toBe(`endpoint ${endpoint} already registered for DRA driver plugin lockstep.dev`);
    expect(store.list()).toHaveLength(1);
    const { rm } = await import('node:fs/promises');
    await rm(join(dir, 'one-reg.sock'));
    await rm(join(dir, 'two-reg.sock'));
    await watcher.scanNow();
    expect(store.list()).toEqual([]);
  });

  it('chooseDraVersion follows the order the plugin lists', () => {
    expect(chooseDraVersion('d', '/e', ['v1alpha1.DRAResourceHealth', 'v1.DRAPlugin', 'v1beta1.DRAPlugin'])).toBe(
      'v1.DRAPlugin',
    );
    expect(() => chooseDraVersion('d', '/e', ['v1alpha1.DRAResourceHealth'])).toThrow(/none of services/);
  });
});
