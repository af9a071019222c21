/**
 * The plugin as users run it: the real `kubectl` binary finds `kubectl-lockstep` on PATH and runs it against the test
 * cluster's API server. The cluster holds two 8x H100 nodes (simulated from the recordings, slices from the real
 * discovery scan and slice builder), gpu-0000-5d-00-0 of h100-b unhealthy, and a two-member group recovering from it.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { DRIVER } from '../../src/contract/names.js';
import { type ApiServer, type KubeObject, startApiServer } from '../cluster/apiserver/index.js';
import { bundlePath, ensureBuilt } from '../support/build.js';
import { node, recoveringGroup } from './fixtures.js';
import { realH100Slices } from './real-slices.js';

let api: ApiServer;
let empty: ApiServer;
let bin: string;
let work: string;

// taint values are label values (the builder makes them so): use one that is already
const GPU3_REASON = 'xid-79-fallen-off-the-bus';
// the recorded host's second BCM5720 port has no link; on h100-a the health board has since seen it come up
const MGMT_PORT = 'nic-0000-01-00-1';

function seedGroup(server: ApiServer): void {
  // device names as the agent publishes them for the recorded node (PCI addresses, GPU bus ids 19 … db)
  const buses = ['19', '3b', '4c', '5d', '9b', 'bb', 'cb', 'db'];
  const { pods, claims } = recoveringGroup('ml', (i) => `gpu-0000-${buses[i]}-00-0`);
  for (const c of claims) {
    const created = server.store.create('resourceclaims', { ...c, status: undefined });
    server.store.updateStatus('resourceclaims', { ...created, status: c.status } as unknown as KubeObject);
  }
  for (const p of pods) {
    const created = server.store.create('pods', { ...p, status: undefined });
    server.store.updateStatus('pods', { ...created, status: p.status } as unknown as KubeObject);
  }
  server.store.create('events', {
    apiVersion: 'v1',
    kind: 'Event',
    metadata: { name: 'llama-1.gpu3', namespace: 'ml' },
    involvedObject: { kind: 'Pod', name: 'llama-1', namespace: 'ml', apiVersion: 'v1' },
    reason: 'DeviceUnhealthy',
    message: `gpu-0000-5d-00-0: ${GPU3_REASON}`,
    type: 'Warning',
    source: { component: 'lockstep-agent' },
    firstTimestamp: new Date().toISOString(),
    lastTimestamp: new Date().toISOString(),
    count: 1,
  });
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'kubectl-lockstep-'));
  bin = join(work, 'bin');
  mkdirSync(bin);
  symlinkSync(bundlePath('kubectl-lockstep'), join(bin, 'kubectl-lockstep'));
  symlinkSync(bundlePath('kubectl_complete-lockstep'), join(bin, 'kubectl_complete-lockstep'));
  api = await startApiServer({ featureGates: { DRADeviceTaints: true }, namespaces: ['ml', 'quiet'] });
  empty = await startApiServer();
  for (const name of ['h100-a', 'h100-b']) api.store.create('nodes', node(name));
  const slices = [
    ...(await realH100Slices('h100-a', join(work, 'h100-a'), { healthy: [MGMT_PORT] })),
    ...(await realH100Slices('h100-b', join(work, 'h100-b'), { unhealthy: { 'gpu-0000-5d-00-0': GPU3_REASON } })),
  ];
  for (const s of slices) api.store.create('resourceslices', s);
  seedGroup(api);
}, 120_000);

afterAll(async () => {
  await api?.stop();
  await empty?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Async: the API server runs in this process, so a blocking spawn would deadlock it. */
async function kubectl(
  args: readonly string[],
  kubeconfig = api.kubeconfigPath,
  env: NodeJS.ProcessEnv = {},
): Promise<Run> {
  const r = await execa('kubectl', ['lockstep', ...args, '--kubeconfig', kubeconfig], {
    env: { PATH: `${bin}:${process.env.PATH}`, HOME: work, ...env },
    extendEnv: false,
    reject: false,
    stripFinalNewline: false,
    timeout: 60_000,
  });
  return { status: r.exitCode ?? null, stdout: r.stdout, stderr: r.stderr };
}

const lines = (text: string) => text.trimEnd().split('\n');
const cells = (line: string) => line.trim().split(/ {3,}/);
const rowOf = (text: string, first: string) => lines(text).find((l) => l.startsWith(`${first} `));

describe('kubectl lockstep nodes', () => {
  it('prints one row per node with counts, agent and publish time', async () => {
    const r = await kubectl(['nodes']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const [header, ...rows] = lines(r.stdout);
    expect(cells(header!)).toEqual([
      'NODE',
      'ACCELERATORS',
      'NICS',
      'HEALTHY',
      'UNHEALTHY',
      'TAINTED',
      'AGENT',
      'LAST PUBLISH',
      'AGE',
    ]);
    expect(rows).toHaveLength(2);
    expect(cells(rows[0]!).slice(0, 7)).toEqual(['h100-a', '8', '14', '22', '0', '0', '0.1.0']);
    // h100-b: the XID-tainted GPU; its uncabled on-board port (down since first seen) is no fault
    expect(cells(rows[1]!).slice(0, 7)).toEqual(['h100-b', '8', '14', '21', '1', '1', '0.1.0']);
    expect(cells(rows[0]!)[7]).toMatch(/^\d+s$/);
  });

  it('-o wide adds models and driver versions; --no-headers drops the header', async () => {
    const wide = await kubectl(['nodes', '-o', 'wide']);
    expect(lines(wide.stdout)[0]).toMatch(/MODELS\s+DRIVER\s+NODE TAINTS$/);
    expect(rowOf(wide.stdout, 'h100-a')).toMatch(/8x NVIDIA H100 80GB HBM3\s+535\.161\.08\s+<none>$/);
    const bare = await kubectl(['nodes', '--no-headers']);
    expect(lines(bare.stdout)).toHaveLength(2);
    expect(bare.stdout.startsWith('h100-a ')).toBe(true);
  });

  it('-o json and -o yaml carry the same records', async () => {
    const json = JSON.parse((await kubectl(['nodes', '-o', 'json'])).stdout);
    expect(json.kind).toBe('NodeList');
    expect(json.items[1]).toMatchObject({
      node: 'h100-b',
      accelerators: 8,
      nics: 14,
      healthy: 21,
      unhealthy: 1,
      agentVersion: '0.1.0',
      models: ['8x NVIDIA H100 80GB HBM3'],
      poolComplete: true,
    });
    expect(parseYaml((await kubectl(['nodes', '-o', 'yaml'])).stdout)).toEqual(
      JSON.parse(JSON.stringify({ ...json, items: json.items.map((i: Record<string, unknown>) => i) })),
    );
  });

  it('lists with one request per kind, selected on the server', async () => {
    api.counters.reset();
    expect((await kubectl(['nodes'])).status).toBe(0);
    expect(api.counters.total({ verb: 'list', resource: 'resourceslices' })).toBe(1);
    expect(api.counters.total({ verb: 'list', resource: 'nodes' })).toBe(1);
    expect(api.counters.total({})).toBe(2);
  });
});

describe('kubectl lockstep devices', () => {
  it('shows type, model, health, reason, taint, topology, nearest NIC and holder', async () => {
    const r = await kubectl(['devices', 'h100-b', '-n', 'ml']);
    expect(r.status).toBe(0);
    expect(cells(lines(r.stdout)[0]!)).toEqual([
      'NAME',
      'TYPE',
      'MODEL',
      'HEALTH',
      'REASON',
      'TAINTS',
      'PCIE ROOT',
      'SWITCH',
      'NUMA',
      'NIC',
      'CLAIM',
      'POD',
    ]);
    expect(cells(rowOf(r.stdout, 'gpu-0000-5d-00-0')!)).toEqual([
      'gpu-0000-5d-00-0',
      'gpu',
      'NVIDIA H100 80GB HBM3',
      'Unhealthy',
      // the XID class taint holds the bare XID; the reason column names it
      'XID 79',
      'lockstep.dev/xid:NoExecute',
      expect.stringMatching(/^pci0000:[0-9a-f]{2}$/),
      expect.stringMatching(/^0000:[0-9a-f]{2}:00\.0$/),
      '0',
      expect.stringMatching(/^nic-0000-[0-9a-f]{2}-00-[01]\(PIX\)$/),
      'llama-1-gpus',
      'llama-1',
    ]);
    expect(cells(rowOf(r.stdout, 'gpu-0000-19-00-0')!)[9]).toBe('nic-0000-1a-00-0(PIX)');
    const nic = cells(rowOf(r.stdout, 'nic-0000-1a-00-0')!);
    // the builder names a NIC by its PCI identity (ConnectX-7: 15b3:1021)
    expect(nic.slice(1, 4)).toEqual(['nic', '15b3:1021', 'Healthy']);
    expect(nic.slice(9)).toEqual(['<none>', '<none>', '<none>']);
  });

  it('-A shows every node and qualifies holders with their namespace', async () => {
    const r = await kubectl(['devices', '-A']);
    expect(lines(r.stdout)).toHaveLength(1 + 44);
    expect(lines(r.stdout)[0]!.startsWith('NODE ')).toBe(true);
    expect(cells(rowOf(r.stdout, 'h100-a')!).slice(-2)).toEqual(['ml/llama-0-gpus', 'ml/llama-0']);
    // from another namespace the holders still show, named with their namespace (a held device never reads free)
    const quiet = await kubectl(['devices', 'h100-a', '-n', 'quiet']);
    expect(cells(rowOf(quiet.stdout, 'gpu-0000-19-00-0')!).slice(-2)).toEqual(['ml/llama-0-gpus', 'ml/llama-0']);
    const bare = await kubectl(['devices', 'h100-a']);
    expect(cells(rowOf(bare.stdout, 'gpu-0000-19-00-0')!).slice(-2)).toEqual(['ml/llama-0-gpus', 'ml/llama-0']);
    expect(cells(rowOf(bare.stdout, 'nic-0000-01-00-1')!).slice(-2)).toEqual(['<none>', '<none>']);
  });

  it('-o json has the device with its holder', async () => {
    const json = JSON.parse((await kubectl(['devices', 'h100-b', '-A', '-o', 'json'])).stdout);
    const gpu3 = json.items.find((d: { name: string }) => d.name === 'gpu-0000-5d-00-0');
    expect(gpu3).toMatchObject({
      node: 'h100-b',
      type: 'gpu',
      health: 'Unhealthy',
      reason: 'XID 79',
      pciBusID: '0000:5d:00.0',
      holder: { namespace: 'ml', claim: 'llama-1-gpus', pods: ['llama-1'] },
    });
  });

  it('a node with nothing published is an empty list, not an error', async () => {
    const r = await kubectl(['devices', 'no-such-node']);
    expect(r.status).toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe('No devices of lockstep.dev found on node no-such-node.\n');
  });
});

describe('kubectl lockstep topo', () => {
  it('draws the matrix with NUMA affinity and a legend', async () => {
    const r = await kubectl(['topo', 'h100-a']);
    expect(r.status).toBe(0);
    const [header, ...rest] = lines(r.stdout);
    expect(header!.trim().split(/\s{2,}/)).toEqual([
      ...Array.from({ length: 8 }, (_, i) => `GPU${i}`),
      ...Array.from({ length: 14 }, (_, i) => `NIC${i}`),
      'NUMA Affinity',
    ]);
    const gpu0 = rest[0]!.trim().split(/\s+/);
    expect(gpu0[0]).toBe('GPU0');
    expect(gpu0[1]).toBe('X');
    expect(gpu0.slice(2, 9)).toEqual(Array(7).fill('NV18'));
    expect(gpu0.at(-1)).toBe('0');
    expect(rest[4]!.trim().split(/\s+/).at(-1)).toBe('1');
    expect(r.stdout).toContain('  PIX  = same PCIe switch (pcieSwitch)');
    expect(r.stdout).toContain('  NV#  = both GPUs in one NVLink domain');
    expect(r.stdout).toContain('  NIC2: nic-0000-1a-00-0 (mlx5_0, enp26s0np0)');
  });

  it('-o json gives the matrix by label', async () => {
    const json = JSON.parse((await kubectl(['topo', 'h100-a', '-o', 'json'])).stdout);
    expect(json.devices[10]).toMatchObject({ label: 'NIC2', name: 'nic-0000-1a-00-0', numaNode: 0 });
    expect(json.matrix.GPU0.NIC2).toBe('PIX');
    expect(json.matrix.GPU0.GPU4).toBe('NV18'); // across sockets, still over the fabric
    // the HGX's NVSwitch fabric: every GPU pair over 18 NVLinks, as nvidia-smi topo -m prints it
    expect(json.matrix.GPU0.GPU1).toBe('NV18');
    expect(json.matrix.GPU0.GPU7).toBe('NV18');
  });

  it('is an error for a node without devices', async () => {
    const r = await kubectl(['topo', 'nowhere']);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe('error: node "nowhere" has no GPUs, TPUs or PCI NICs published by lockstep.dev\n');
  });
});

describe('kubectl lockstep groups / group', () => {
  it('lists the recovering group', async () => {
    const r = await kubectl(['groups', '-n', 'ml']);
    expect(r.status).toBe(0);
    expect(cells(lines(r.stdout)[0]!)).toEqual([
      'NAME',
      'SIZE',
      'READY',
      'EPOCH',
      'STATE',
      'RESTARTS',
      'LAST REASON',
      'LAST CHANGE',
      'AGE',
    ]);
    expect(cells(lines(r.stdout)[1]!).slice(0, 7)).toEqual([
      'llama',
      '2',
      '1/2',
      '3',
      'Recovering',
      '2',
      'member 1: device gpu-0000-5d-00-0 unhealthy (xid 79)',
    ]);
    const all = await kubectl(['groups', '-A', '--no-headers']);
    expect(cells(all.stdout.trim())[0]).toBe('ml');
    const none = await kubectl(['groups']);
    expect(none.stdout).toBe('');
    expect(none.stderr).toBe('No groups found in default namespace.\n');
  });

  it('-o json has members', async () => {
    const json = JSON.parse((await kubectl(['groups', '-n', 'ml', '-o', 'json'])).stdout);
    expect(json.items[0]).toMatchObject({ name: 'llama', epoch: 3, state: 'Recovering', leader: 'llama-0' });
    expect(json.items[0].members.map((m: { pod: string }) => m.pod)).toEqual(['llama-0', 'llama-1']);
  });

  it('describes one group: fields, members, events', async () => {
    const r = await kubectl(['group', 'llama', '-n', 'ml']);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^Name: +llama\nNamespace: +ml\nSize: +2\nReady: +1\/2\nEpoch: +3\nState: +Recovering\n/);
    const members = r.stdout.split('Members:\n')[1]!.split('\nEvents:')[0]!;
    expect(cells(lines(members)[0]!)).toEqual(['RANK', 'POD', 'NODE', 'READY', 'DEVICES', 'RESTARTS', 'REASON']);
    expect(cells(lines(members)[2]!)).toEqual([
      '1',
      'llama-1',
      'h100-b',
      'False',
      'Unhealthy',
      '1',
      'device gpu-0000-5d-00-0 unhealthy',
    ]);
    expect(r.stdout).toMatch(
      /\nEvents:\nLAST SEEN +TYPE +REASON +OBJECT +MESSAGE\n\d+s +Warning +DeviceUnhealthy +pod\/llama-1 +gpu-0000-5d-00-0: xid-79-fallen-off-the-bus\n$/,
    );
    const json = JSON.parse((await kubectl(['group', 'llama', '-n', 'ml', '-o', 'json'])).stdout);
    expect(json).toMatchObject({ kind: 'Group', name: 'llama', events: [{ reason: 'DeviceUnhealthy' }] });
  });

  it('names a missing group', async () => {
    const r = await kubectl(['group', 'nope', '-n', 'ml']);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe('error: group "nope" not found in namespace "ml"\n');
  });
});

describe('kubectl lockstep pods', () => {
  it('shows the kubelet status and the DevicesHealthy condition', async () => {
    const r = await kubectl(['pods', '-n', 'ml']);
    expect(r.status).toBe(0);
    expect(cells(lines(r.stdout)[0]!)).toEqual([
      'NAME',
      'NODE',
      'DEVICES',
      'HEALTH',
      'ALLOCATED STATUS',
      'READY',
      'DEVICESHEALTHY',
      'GROUP',
      'AGE',
    ]);
    expect(cells(rowOf(r.stdout, 'llama-0')!).slice(0, 8)).toEqual([
      'llama-0',
      'h100-a',
      '8',
      'Healthy',
      '8 Healthy',
      '<none>',
      'True',
      'llama',
    ]);
    expect(cells(rowOf(r.stdout, 'llama-1')!).slice(0, 8)).toEqual([
      'llama-1',
      'h100-b',
      '8',
      'Unhealthy',
      '7 Healthy, 1 Unhealthy (gpu-0000-5d-00-0)',
      '<none>',
      'False',
      'llama',
    ]);
    const json = JSON.parse((await kubectl(['pods', '-A', '-o', 'json'])).stdout);
    expect(json.items.map((p: { namespace: string; name: string }) => `${p.namespace}/${p.name}`)).toEqual([
      'ml/llama-0',
      'ml/llama-1',
    ]);
    expect((await kubectl(['pods', '-n', 'ml', '-l', 'lockstep.dev/group=other'])).stderr).toBe(
      'No pods with devices found in ml namespace.\n',
    );
  });
});

describe('kubectl lockstep check', () => {
  it('exits 1 with the list of problems', async () => {
    const r = await kubectl(['check', '-A']);
    expect(r.status).toBe(1);
    expect(lines(r.stdout).map(cells)).toEqual([
      ['KIND', 'OBJECT', 'PROBLEM'],
      ['device', 'h100-b/gpu-0000-5d-00-0', 'unhealthy: XID 79'],
      ['pod', 'ml/llama-1', 'device unhealthy: gpu-0000-5d-00-0'],
      ['group', 'ml/llama', 'Recovering at epoch 3: member 1: device gpu-0000-5d-00-0 unhealthy (xid 79)'],
    ]);
    expect(r.stderr).toBe('error: 3 problems found (44 devices on 2 nodes, 2 pods with devices, 1 group)\n');
    const json = await kubectl(['check', '-A', '-o', 'json']);
    expect(json.status).toBe(1);
    expect(JSON.parse(json.stdout)).toMatchObject({ ok: false, checked: { nodes: 2, devices: 44 } });
  });

  it('exits 0 when everything in scope is healthy', async () => {
    const r = await kubectl(['check', '-n', 'quiet', '-l', 'kubernetes.io/hostname=h100-a']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toBe('OK: 22 devices on 1 node, 0 pods with devices, 0 groups: all healthy\n');
  });
});

describe('without a cluster, without permission, on an empty cluster', () => {
  it('no cluster: error line, exit 1; check exits 3', async () => {
    const dead = join(work, 'dead.kubeconfig');
    writeFileSync(
      dead,
      [
        'apiVersion: v1',
        'kind: Config',
        'clusters: [{name: c, cluster: {server: "https://127.0.0.1:9", insecure-skip-tls-verify: true}}]',
        'users: [{name: u, user: {token: x}}]',
        'contexts: [{name: x, context: {cluster: c, user: u}}]',
        'current-context: x',
      ].join('\n'),
    );
    const r = await kubectl(['nodes'], dead);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^error: cannot reach the API server \(listing resourceslices\): .*ECONNREFUSED.*\n$/);
    const c = await kubectl(['check'], dead);
    expect(c.status).toBe(3);
    expect(c.stderr).toMatch(/^error: could not check: cannot reach the API server/);
    const missing = await kubectl(['check'], join(work, 'nope.kubeconfig'));
    expect(missing.status).toBe(3);
    expect(missing.stderr).toMatch(/^error: could not check: kubeconfig .*nope\.kubeconfig does not exist\n$/);
  });

  it('no permission: Forbidden, exit 1; check exits 3', async () => {
    const alice = api.kubeconfigFor('alice');
    const r = await kubectl(['devices'], alice);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^error: listing resourceslices: Forbidden: .*alice.*\n$/);
    const c = await kubectl(['check'], alice);
    expect(c.status).toBe(3);
    expect(c.stderr).toMatch(/^error: could not check: listing \w+: Forbidden/);
  });

  it('an unknown context is an error', async () => {
    const r = await kubectl(['nodes', '--context', 'nope']);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe('error: context "nope" is not in the kubeconfig\n');
  });

  it('empty cluster: empty lists; check says no agent has published and exits 1', async () => {
    const n = await kubectl(['nodes'], empty.kubeconfigPath);
    expect(n).toEqual({ status: 0, stdout: '', stderr: `No nodes with devices of ${DRIVER} found.\n` });
    expect(JSON.parse((await kubectl(['devices', '-o', 'json'], empty.kubeconfigPath)).stdout)).toEqual({
      kind: 'DeviceList',
      items: [],
    });
    const c = await kubectl(['check', '-A'], empty.kubeconfigPath);
    expect(c.status).toBe(1);
    expect(c.stdout).toContain('no lockstep agent has published devices');
    expect(c.stderr).toBe('error: 1 problem found (0 devices on 0 nodes, 0 pods with devices, 0 groups)\n');
  });
});

describe('conventions', () => {
  it('runs with PATH=dist:$PATH, and kubectl plugin list finds it with no warning', async () => {
    const dist = ensureBuilt();
    const env = { PATH: `${dist}:${process.env.PATH}`, HOME: work };
    const list = await execa('kubectl', ['plugin', 'list'], { env, extendEnv: false, reject: false });
    expect(list.stdout).toContain(join(dist, 'kubectl-lockstep'));
    expect(list.stderr).not.toMatch(/warning|not executable|overshadowed/i);
    expect(`${list.stdout}\n${list.stderr}`).not.toContain('.mjs');
    const r = await execa('kubectl', ['lockstep', '-A', 'groups', '--kubeconfig', api.kubeconfigPath, '-o', 'name'], {
      env,
      extendEnv: false,
      reject: false,
    });
    expect(r.stdout).toBe('group/llama');
    expect(r.exitCode).toBe(0);
  });

  it('--token, --as, --server and --request-timeout as kubectl takes them', async () => {
    const asAlice = await kubectl(['devices', '--as', 'alice']);
    expect(asAlice.status).toBe(1);
    expect(asAlice.stderr).toMatch(/^error: listing resourceslices: Forbidden: .*alice.*\n$/);
    const token = await kubectl(['devices', '--token', api.tokenFor('alice')]);
    expect(token.stderr).toMatch(/^error: listing resourceslices: Forbidden: .*alice.*\n$/);
    const server = await kubectl(['nodes', '--server', 'https://127.0.0.1:9', '--request-timeout', '5s']);
    expect(server.status).toBe(1);
    expect(server.stderr).toMatch(/^error: cannot reach the API server \(listing resourceslices\): .*ECONNREFUSED/);
    const ok = await kubectl(['--request-timeout=30s', 'nodes', '-o', 'jsonpath={.items[*].node}']);
    expect(ok).toMatchObject({ status: 0, stdout: 'h100-a h100-b' });
  });

  it('colour never without a terminal, even when asked for table output', async () => {
    expect((await kubectl(['devices', 'h100-b'])).stdout).not.toContain('\u001b[');
  });

  it('shell completion through kubectl_complete-lockstep', async () => {
    const complete = async (...words: string[]) =>
      (
        await execa('kubectl', ['__complete', 'lockstep', ...words], {
          env: { PATH: `${bin}:${process.env.PATH}`, HOME: work },
          extendEnv: false,
          stripFinalNewline: false,
        })
      ).stdout;
    expect(await complete('to')).toBe('topo\tGPU/NIC distance matrix of a node, like nvidia-smi topo -m\n:4\n');
    expect(await complete('topo', '--kubeconfig', api.kubeconfigPath, 'h100')).toBe('h100-a\nh100-b\n:4\n');
    expect(await complete('group', '--kubeconfig', api.kubeconfigPath, '-n', 'ml', '')).toBe('llama\n:4\n');
    expect(await complete('nodes', '-o', 'y')).toBe('yaml\n:4\n');
  });
});

function sliceOf(nodeName: string): KubeObject {
  return api.store
    .list('resourceslices')
    .find((s) => (s as unknown as { spec: { nodeName: string } }).spec.nodeName === nodeName)!;
}

describe('kubectl lockstep nodes -w', () => {
  it('redraws when a slice changes', { timeout: 60_000 }, async () => {
    const child: ChildProcess = spawn('kubectl', ['lockstep', 'nodes', '-w', '--kubeconfig', api.kubeconfigPath], {
      env: { PATH: `${bin}:${process.env.PATH}`, HOME: work },
    });
    let out = '';
    child.stdout!.setEncoding('utf8').on('data', (c: string) => {
      out += c;
    });
    const waitFor = async (what: RegExp) => {
      for (let i = 0; i < 300 && !what.test(out); i++) await new Promise((r) => setTimeout(r, 100));
      expect(out).toMatch(what);
    };
    try {
      await waitFor(/h100-b\s+8\s+14\s+21\s+1/);
      // wait until the watches are up (the first redraw from the caches changes nothing), then break gpu-0000-19-00-0 of h100-a
      for (let i = 0; i < 100 && api.openWatches() < 2; i++) await new Promise((r) => setTimeout(r, 100));
      const slice = structuredClone(sliceOf('h100-a'));
      const spec = (slice as unknown as { spec: { devices: { name: string; attributes: Record<string, unknown> }[] } })
        .spec;
      spec.devices[0]!.attributes.healthy = { bool: false };
      api.store.update('resourceslices', slice);
      await waitFor(/h100-a\s+8\s+14\s+21\s+1/);
      // redrawn (ages move on too, so there may be more than one redraw), never the same table twice in a row
      expect(out.split('NODE ').length - 1).toBeGreaterThanOrEqual(2);
    } finally {
      child.kill('SIGINT');
      await new Promise((r) => child.once('exit', r));
      // put it back for the other tests
      const slice = structuredClone(sliceOf('h100-a'));
      const spec = (slice as unknown as { spec: { devices: { attributes: Record<string, unknown> }[] } }).spec;
      spec.devices[0]!.attributes.healthy = { bool: true };
      api.store.update('resourceslices', slice);
    }
  });
});
