/**
 * Admins' DeviceTaintRules (resource.k8s.io/v1beta2) in `devices` and `check`: the selection rule (table), and the
 * plugin in-process against the test API server serving the kind (and one that does not serve it).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runProgram } from '../../src/cli/run-program.js';
import { DRIVER } from '../../src/contract/names.js';
import { KubeClient } from '../../src/kube/client.js';
import { loadKubeConfig } from '../../src/kube/config.js';
import type { DeviceTaintRule } from '../../src/kube/types.js';
import { apiReader, ClusterReadError, type ClusterReader } from '../../src/kubectl/cluster.js';
import { type DeviceRecord, ruleSelects, withTaintRules } from '../../src/kubectl/model/devices.js';
import { kubectlProgram } from '../../src/kubectl/program.js';
import { type ApiServer, startApiServer } from '../cluster/apiserver/index.js';
import { h100Slice, node } from './fixtures.js';

function rule(
  name: string,
  selector: DeviceTaintRule['spec']['deviceSelector'],
  effect = 'NoSchedule',
): DeviceTaintRule {
  return {
    apiVersion: 'resource.k8s.io/v1beta2',
    kind: 'DeviceTaintRule',
    metadata: { name },
    spec: {
      ...(selector === undefined ? {} : { deviceSelector: selector }),
      taint: { key: 'example.com/maintenance', value: name, effect: effect as 'NoSchedule' },
    },
  };
}

const device = { pool: 'h100-b', name: 'gpu-3' };

describe('ruleSelects', () => {
  it.each([
    ['no selector picks nothing', undefined, false],
    ['an empty selector picks every device', {}, true],
    ['the driver', { driver: DRIVER }, true],
    ['another driver', { driver: 'gpu.nvidia.com' }, false],
    ['driver and pool', { driver: DRIVER, pool: 'h100-b' }, true],
    ['another pool', { pool: 'h100-a' }, false],
    ['pool and device', { pool: 'h100-b', device: 'gpu-3' }, true],
    ['the device name in another pool', { pool: 'h100-a', device: 'gpu-3' }, false],
    ['the device name alone (any pool)', { device: 'gpu-3' }, true],
    ['another device', { device: 'gpu-2' }, false],
  ])('%s', (_, selector, expected) => {
    expect(ruleSelects(rule('r', selector), device, DRIVER)).toBe(expected);
  });
});

describe('withTaintRules', () => {
  const record = (name: string): DeviceRecord => ({
    node: 'h100-b',
    pool: 'h100-b',
    slice: 's',
    name,
    type: 'gpu',
    health: 'Healthy',
    taints: [{ key: 'lockstep.dev/xid', value: '79', effect: 'NoExecute' }],
  });

  it('adds the rules’ taints after the agent’s own, sorted by rule name, naming the rule; the input is unchanged', () => {
    const input = [record('gpu-3'), record('gpu-4')];
    const out = withTaintRules(input, [rule('z-all', {}, 'None'), rule('a-one', { device: 'gpu-3' })], DRIVER);
    expect(out[0]!.taints).toEqual([
      { key: 'lockstep.dev/xid', value: '79', effect: 'NoExecute' },
      { key: 'example.com/maintenance', value: 'a-one', effect: 'NoSchedule', rule: 'a-one' },
      { key: 'example.com/maintenance', value: 'z-all', effect: 'None', rule: 'z-all' },
    ]);
    expect(out[1]!.taints.map((t) => t.rule)).toEqual([undefined, 'z-all']);
    expect(input[0]!.taints).toHaveLength(1);
  });

  it('ignores a rule without a taint (a malformed object from a lax server)', () => {
    const broken = { metadata: { name: 'x' }, spec: { deviceSelector: {} } } as unknown as DeviceTaintRule;
    expect(withTaintRules([record('gpu-3')], [broken], DRIVER)[0]!.taints).toHaveLength(1);
  });
});

let served: ApiServer;
let notServed: ApiServer;

beforeAll(async () => {
  served = await startApiServer({ tls: false, featureGates: { DRADeviceTaints: true, DRADeviceTaintRules: true } });
  notServed = await startApiServer({ tls: false, featureGates: { DRADeviceTaints: true } });
  for (const api of [served, notServed]) {
    for (const name of ['h100-a', 'h100-b']) {
      api.store.create('nodes', node(name));
      api.store.create(
        'resourceslices',
        h100Slice(name, name === 'h100-b' ? { unhealthy: { 'gpu-3': 'xid-79' } } : {}),
      );
    }
  }
  served.store.create('devicetaintrules', rule('bios-update', { driver: DRIVER, pool: 'h100-b', device: 'gpu-2' }));
  served.store.create('devicetaintrules', rule('audit', { driver: DRIVER, pool: 'h100-b' }, 'None'));
  served.store.create('devicetaintrules', rule('other-driver', { driver: 'gpu.nvidia.com' }));
}, 60_000);

afterAll(async () => {
  await served?.stop();
  await notServed?.stop();
});

async function plugin(api: ApiServer, args: string[], reader?: ClusterReader) {
  let stdout = '';
  let stderr = '';
  const io = {
    stdout: (t: string) => {
      stdout += t;
    },
    stderr: (t: string) => {
      stderr += t;
    },
  };
  const client = new KubeClient(loadKubeConfig({ kubeconfig: api.kubeconfigPath }));
  try {
    const program = kubectlProgram(
      {},
      {
        ...io,
        stdoutIsTTY: false,
        connect: () => ({ reader: reader ?? apiReader(client), namespace: 'default' }),
        untilStopped: () => Promise.resolve(),
      },
    );
    const code = await runProgram(program, args, io);
    return { code, stdout, stderr };
  } finally {
    client.close();
  }
}

const rowOf = (text: string, first: string) =>
  text
    .split('\n')
    .find((l) => l.startsWith(`${first} `))
    ?.trim()
    .split(/ {3,}/);

describe('kubectl lockstep devices / check with DeviceTaintRules', () => {
  it('devices shows an admin’s taints next to the agent’s, on exactly the devices the rules select', async () => {
    const r = await plugin(served, ['devices', 'h100-b']);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    expect(rowOf(r.stdout, 'gpu-2')?.[5]).toBe(
      // rules in name order
      'example.com/maintenance:None(rule/audit),example.com/maintenance:NoSchedule(rule/bios-update)',
    );
    expect(rowOf(r.stdout, 'gpu-3')?.[5]).toBe(
      'lockstep.dev/unhealthy:NoExecute,example.com/maintenance:None(rule/audit)',
    );
    const a = await plugin(served, ['devices', 'h100-a', '-o', 'json']);
    const taints = JSON.parse(a.stdout).items.flatMap((d: { taints: unknown[] }) => d.taints);
    expect(taints).toEqual([]);
  });

  it('check calls a NoSchedule/NoExecute rule on a device a problem, and a None rule not', async () => {
    const r = await plugin(served, ['check', '-A', '-o', 'json']);
    expect(r.code).toBe(1);
    const problems = JSON.parse(r.stdout).problems as { object: string; problem: string }[];
    expect(problems.filter((p) => p.problem.includes('DeviceTaintRule'))).toEqual([
      {
        kind: 'device',
        object: 'h100-b/gpu-2',
        problem: 'tainted by DeviceTaintRule bios-update: example.com/maintenance=bios-update:NoSchedule',
      },
    ]);
  });

  it('a cluster that does not serve DeviceTaintRules: devices and check work as before, without a warning', async () => {
    const devices = await plugin(notServed, ['devices', 'h100-b']);
    expect(devices).toMatchObject({ code: 0, stderr: '' });
    expect(rowOf(devices.stdout, 'gpu-2')?.[5]).toBe('<none>');
    const check = await plugin(notServed, ['check', '-A', '-o', 'json']);
    expect(JSON.parse(check.stdout).problems.map((p: { object: string }) => p.object)).toEqual(['h100-b/gpu-3']);
  });

  it('a user who may not list DeviceTaintRules gets the devices and a warning', async () => {
    const client = new KubeClient(loadKubeConfig({ kubeconfig: served.kubeconfigPath }));
    const real = apiReader(client);
    const forbidding: ClusterReader = {
      list: (kind, scope) =>
        kind === 'devicetaintrules'
          ? Promise.reject(
              new ClusterReadError('forbidden', 'listing devicetaintrules: Forbidden: User "bob" cannot list'),
            )
          : real.list(kind, scope),
    };
    try {
      const r = await plugin(served, ['devices', 'h100-b'], forbidding);
      expect(r.code).toBe(0);
      expect(r.stderr).toBe(
        'warning: listing devicetaintrules: Forbidden: User "bob" cannot list (administrators\' device taints not shown)\n',
      );
    } finally {
      client.close();
    }
  });
});
