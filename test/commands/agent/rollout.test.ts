import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { TAINT_KEYS } from '../../../src/contract/names.js';
import type { Lease } from '../../../src/kube/lease.js';
import type { ResourceSlice } from '../../../src/kube/types.js';
import { type ApiServer, startApiServer } from '../../cluster/apiserver/index.js';
import { buildSimulatedNode, type SimulatedNode } from '../../cluster/nodes/index.js';
import { waitFor } from '../../kube/wait.js';
import { bundlePath } from '../../support/build.js';

/**
 * A DaemonSet rollout with `maxSurge: 1` runs the old and the new agent of a node side by side. Here they are real
 * `lockstep agent` processes against the test API server, and they disagree on purpose (different --taint-effect)
 * about a GPU with an XID: only the Lease keeps them from overwriting each other's slice.
 */

const NS = 'lockstep-system';
const NODE = 'gpu-node-1';
const LEASE = `lockstep.dev.${NODE}`;

let api: ApiServer;
let node: SimulatedNode;
const dirs: string[] = [];

interface RunningAgent {
  child: ChildProcess;
  exited: Promise<number | null>;
  output: () => string;
}
const running: RunningAgent[] = [];

beforeAll(async () => {
  api = await startApiServer({ featureGates: { DRADeviceTaints: true }, namespaces: [NS] });
  const nodeDir = await mkdtemp(join(tmpdir(), 'rollout-node-'));
  dirs.push(nodeDir);
  node = await buildSimulatedNode('h100-hgx', nodeDir, { nodeName: NODE });
  api.store.create('nodes', { metadata: { name: NODE } });
});

afterEach(async () => {
  for (const agent of running.splice(0)) {
    agent.child.kill('SIGTERM');
    await agent.exited;
  }
});

afterAll(async () => {
  await api?.stop();
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

const sliceWrites = () => api.counters.writes({ resource: 'resourceslices' });
const slices = () =>
  (api.store.list('resourceslices') as unknown as ResourceSlice[]).filter((s) => s.spec.nodeName === NODE);
const leaseHolder = () =>
  (api.store.find('leases', LEASE, NS) as unknown as Lease | undefined)?.spec?.holderIdentity ?? '';
/** The effects of the XID taints in the node's slices. */
const xidEffects = () =>
  slices()
    .flatMap((s) => s.spec.devices ?? [])
    .flatMap((d) => d.taints ?? [])
    .filter((t) => t.key === TAINT_KEYS.xid)
    .map((t) => t.effect);

async function startAgent(podUid: string, taintEffect: string, extra: string[] = []): Promise<RunningAgent> {
  const stateDir = await mkdtemp(join(tmpdir(), `rollout-${podUid}-`));
  dirs.push(stateDir);
  let output = '';
  const child = spawn(
    process.execPath,
    [
      bundlePath('lockstep'),
      'agent',
      ...['--kubeconfig', api.kubeconfigPath, '--node-name', NODE, '--pod-uid', podUid],
      ...['--sysfs-root', node.sysfsRoot, '--dev-root', node.devRoot, '--nvidia-smi', node.nvidiaSmiPath],
      ...['--kmsg', node.kmsgPath, '--state-dir', stateDir],
      ...['--plugin-registry-dir', join(stateDir, 'registry'), '--plugin-dir', join(stateDir, 'plugin')],
      ...['--cdi-dir', join(stateDir, 'cdi'), '--http-address', '127.0.0.1:0', '--log-level', 'info'],
      ...['--taint-effect', taintEffect, '--lease-namespace', NS],
      ...extra,
    ],
    { env: { PATH: process.env.PATH, HOME: process.env.HOME }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  child.stdout?.on('data', (c: Buffer) => {
    output += c.toString();
  });
  child.stderr?.on('data', (c: Buffer) => {
    output += c.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const agent = { child, exited, output: () => output };
  running.push(agent);
  return agent;
}

describe('two agents of one node (a rollout)', () => {
  it('one publishes at a time: ≤ 2 slice writes in 10 s although they disagree, and a handover on stop', async () => {
    const oldAgent = await startAgent('old-pod', 'NoSchedule');
    await waitFor(
      () => leaseHolder() === 'old-pod' && slices().length === 1,
      'the first agent to publish',
      20_000,
      () => oldAgent.output(),
    );
    const newAgent = await startAgent('new-pod', 'NoExecute');
    await waitFor(
      () => newAgent.output().includes('agent running'),
      'the second agent to run',
      20_000,
      () => newAgent.output(),
    );

    const before = sliceWrites();
    const [gpu] = node.expected.gpus;
    await node.appendKernelLog(
      `NVRM: Xid (PCI:${gpu!.slice(0, -2)}): 79, pid=0, name=kworker, GPU has fallen off the bus.`,
    );
    await waitFor(
      () => xidEffects().length > 0,
      'the XID taint',
      10_000,
      () => oldAgent.output(),
    );
    await new Promise((r) => setTimeout(r, 10_000));
    const writes = sliceWrites() - before;
    expect(writes, `${writes} slice writes in 10 s`).toBeLessThanOrEqual(2);
    // the holder's view is the one published
    expect(xidEffects()).toEqual(['NoSchedule']);
    expect(leaseHolder()).toBe('old-pod');

    // the DaemonSet stops the old pod once the new one is ready: the new one takes over and publishes its view
    oldAgent.child.kill('SIGTERM');
    expect(await oldAgent.exited, oldAgent.output()).toBe(0);
    running.splice(running.indexOf(oldAgent), 1);
    await waitFor(
      () => leaseHolder() === 'new-pod',
      'the handover',
      10_000,
      () => newAgent.output(),
    );
    await waitFor(
      () => xidEffects()[0] === 'NoExecute',
      'the new agent’s view',
      10_000,
      () => newAgent.output(),
    );
    const afterHandover = sliceWrites();
    await new Promise((r) => setTimeout(r, 2000));
    expect(sliceWrites() - afterHandover).toBe(0);
  }, 60_000);

  it('without the Lease the same two agents overwrite each other (the war the Lease prevents)', async () => {
    const a = await startAgent('pod-a', 'NoSchedule', ['--lease-namespace', '']);
    const b = await startAgent('pod-b', 'NoExecute', ['--lease-namespace', '']);
    await waitFor(
      () => a.output().includes('agent running') && b.output().includes('agent running'),
      'both agents running',
      20_000,
      () => a.output() + b.output(),
    );
    const gpu = node.expected.gpus[1]!;
    await node.appendKernelLog(
      `NVRM: Xid (PCI:${gpu.slice(0, -2)}): 79, pid=0, name=kworker, GPU has fallen off the bus.`,
    );
    await waitFor(
      () => xidEffects().length > 0,
      'an XID taint',
      10_000,
      () => a.output() + b.output(),
    );
    const before = sliceWrites();
    await new Promise((r) => setTimeout(r, 3000));
    expect(sliceWrites() - before).toBeGreaterThan(10);
  }, 60_000);
});
