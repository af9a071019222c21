import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ResourceSlice } from '../../../src/kube/types.js';
import { type ApiServer, startApiServer } from '../../cluster/apiserver/index.js';
import { buildSimulatedNode, type SimulatedNode } from '../../cluster/nodes/index.js';
import { waitFor } from '../../kube/wait.js';
import { bundlePath } from '../../support/build.js';
import { runBundle } from '../../support/cli.js';

let api: ApiServer;
let node: SimulatedNode;
let stateDir: string;
let nodeDir = '';

beforeAll(async () => {
  api = await startApiServer({ featureGates: { DRADeviceTaints: true } });
  nodeDir = await mkdtemp(join(tmpdir(), 'agent-node-'));
  node = await buildSimulatedNode('h100-hgx', nodeDir, { nodeName: 'gpu-node-1' });
  api.store.create('nodes', { metadata: { name: 'gpu-node-1' } });
  stateDir = await mkdtemp(join(tmpdir(), 'agent-state-'));
});

afterAll(async () => {
  await api?.stop();
  for (const dir of [nodeDir, stateDir]) if (dir) await rm(dir, { recursive: true, force: true });
});

const slicesOf = (name: string) =>
  (api.store.list('resourceslices') as unknown as ResourceSlice[]).filter((s) => s.spec.nodeName === name);

function agentArgs(extra: string[] = []): string[] {
  return [
    'agent',
    '--kubeconfig',
    api.kubeconfigPath,
    '--node-name',
    node.nodeName,
    '--sysfs-root',
    node.sysfsRoot,
    '--dev-root',
    node.devRoot,
    // as the DaemonSet runs it: the host's driver root mounted, nvidia-smi found under it
    '--driver-root',
    node.driverRoot,
    '--kmsg',
    node.kmsgPath,
    '--state-dir',
    stateDir,
    '--plugin-registry-dir',
    join(stateDir, 'registry'),
    '--plugin-dir',
    join(stateDir, 'plugin'),
    '--cdi-dir',
    join(stateDir, 'cdi'),
    '--http-address',
    '127.0.0.1:0',
    '--log-level',
    'warn',
    ...extra,
  ];
}

/** Runs the bundle without blocking this process: the API server answering it lives here. */
function startAgent(extra: string[] = []): {
  child: ChildProcess;
  exited: Promise<number | null>;
  output: () => string;
} {
  let output = '';
  const child = spawn(process.execPath, [bundlePath('lockstep'), ...agentArgs(extra)], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (c: Buffer) => {
    output += c.toString();
  });
  child.stderr?.on('data', (c: Buffer) => {
    output += c.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, exited, output: () => output };
}

/** Waits until `value` has not changed for `quietMs`. */
async function settled(value: () => number, quietMs: number): Promise<void> {
  let last = value();
  let since = Date.now();
  while (Date.now() - since < quietMs) {
    await new Promise((r) => setTimeout(r, 50));
    const now = value();
    if (now !== last) {
      last = now;
      since = Date.now();
    }
  }
}

describe('lockstep agent', () => {
  it('publishes the node’s slices, stops cleanly on SIGTERM, and a restart writes nothing', async () => {
    const first = startAgent();
    await waitFor(
      () => slicesOf('gpu-node-1').length === 1,
      'slices published',
      20_000,
      () => first.output(),
    );
    const [slice] = slicesOf('gpu-node-1');
    const gpus = slice!.spec.devices!.filter((d) => d.name.startsWith('gpu-'));
    expect(gpus).toHaveLength(8);
    // identity that only nvidia-smi knows: it ran from the driver root
    for (const gpu of gpus) expect(gpu.attributes?.uuid?.string).toMatch(/^GPU-/);
    // the health monitors' first verdicts (e.g. a NIC whose link is down) may republish once: let that settle
    await settled(() => api.counters.writes({ resource: 'resourceslices' }), 1000);
    first.child.kill('SIGTERM');
    expect(await first.exited, first.output()).toBe(0);
    expect(slicesOf('gpu-node-1')).toHaveLength(1); // stopping is not uninstalling

    const writes = api.counters.writes({ resource: 'resourceslices' });
    const watchesBefore = api.counters.total({ verb: 'watch', resource: 'resourceslices' });
    const second = startAgent();
    await waitFor(
      () => api.counters.total({ verb: 'watch', resource: 'resourceslices' }) > watchesBefore,
      'the restarted agent to watch its slices',
      20_000,
      () => second.output(),
    );
    await settled(() => api.counters.writes({ resource: 'resourceslices' }), 1000);
    second.child.kill('SIGTERM');
    expect(await second.exited, second.output()).toBe(0);
    expect(api.counters.writes({ resource: 'resourceslices' })).toBe(writes);
  });

  it('a driver root without nvidia-smi: one error line, and GPUs still published by PCI identity', async () => {
    const emptyRoot = await mkdtemp(join(tmpdir(), 'empty-driver-root-'));
    try {
      const run = startAgent(['--driver-root', emptyRoot, '--node-name', 'gpu-node-2', '--log-level', 'error']);
      await waitFor(
        () => slicesOf('gpu-node-2').length === 1,
        'slices of the second node',
        20_000,
        () => run.output(),
      );
      const gpus = slicesOf('gpu-node-2')[0]!.spec.devices!.filter((d) => d.name.startsWith('gpu-'));
      expect(gpus).toHaveLength(8);
      expect(gpus.every((d) => d.attributes?.uuid === undefined)).toBe(true);
      run.child.kill('SIGTERM');
      const code = await Promise.race([run.exited, new Promise((r) => setTimeout(() => r('hung'), 15_000))]);
      expect(code, run.output()).toBe(0);
      const errors = run
        .output()
        .split('\n')
        .filter((l) => l.includes('"level":50'));
      expect(errors).toHaveLength(1);
      expect(errors[0]).toContain(`no nvidia-smi under the driver root ${emptyRoot}`);
    } finally {
      await rm(emptyRoot, { recursive: true, force: true });
    }
  }, 60_000);

  // SIGTERM while the managers start (the kubelet plugin not yet serving): nothing may start after the stop, or its
  // sockets keep the process alive. Each moment is a log line the agent prints on the way up.
  it.each([
    ['as start-up begins', 'agent starting'],
    ['once the slices are published, before the kubelet plugin serves', 'publishing ResourceSlices'],
  ])(
    'SIGTERM %s: exits 0 and leaves no plugin socket behind',
    async (_moment, line) => {
      const run = startAgent(['--node-name', 'gpu-node-3', '--log-level', 'info']);
      try {
        await waitFor(
          () => run.output().includes(line),
          `"${line}"`,
          20_000,
          () => run.output(),
        );
        run.child.kill('SIGTERM');
        const code = await Promise.race([run.exited, new Promise((r) => setTimeout(() => r('hung'), 15_000))]);
        expect(code, run.output()).toBe(0);
        const sockets = await readdir(join(stateDir, 'registry')).catch(() => []);
        expect(sockets.filter((name) => name.endsWith('.sock'))).toEqual([]);
      } finally {
        run.child.kill('SIGKILL');
      }
    },
    60_000,
  );

  it('--uninstall removes this node’s slices and exits 0', async () => {
    expect(slicesOf('gpu-node-1')).toHaveLength(1);
    const run = startAgent(['--uninstall']);
    expect(await run.exited).toBe(0);
    expect(run.output()).toBe('');
    expect(slicesOf('gpu-node-1')).toHaveLength(0);
  });

  it('refuses to start without a node name or with a bad driver name (usage errors)', () => {
    const noNode = runBundle('lockstep', ['agent', '--kubeconfig', api.kubeconfigPath]);
    expect(noNode.status).toBe(2);
    expect(noNode.stderr).toBe('error: --node-name is required (or set NODE_NAME from the downward API)\n');
    const badDriver = runBundle('lockstep', ['agent', '--node-name', 'n', '--driver-name', 'Not_A_Domain']);
    expect(badDriver.status).toBe(2);
    expect(badDriver.stderr).toBe(
      'error: --driver-name "Not_A_Domain" is not a DNS subdomain of at most 63 characters\n',
    );
  });

  it('says which kubeconfig is missing (exit 1)', () => {
    const r = runBundle('lockstep', ['agent', '--node-name', 'n', '--kubeconfig', '/nonexistent/kubeconfig']);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe('error: kubeconfig /nonexistent/kubeconfig does not exist\n');
  });
});
