import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { type ApiServer, startApiServer } from './apiserver/index.js';
import { apiServerGates, KUBERNETES_VERSIONS, parseFeatureGates } from './versions.js';

/** The test cluster's `--version` switch: what differs between the emulated 1.35, 1.36 and 1.37 (FACTS.md §11). */
const run = promisify(execFile);
let api: ApiServer | undefined;
afterEach(async () => {
  await api?.stop();
  api = undefined;
});

async function getJson(server: ApiServer, path: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${server.url}${path}`, { headers: { authorization: `Bearer ${server.adminToken}` } });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

function taintedSlice(): unknown {
  return {
    apiVersion: 'resource.k8s.io/v1',
    kind: 'ResourceSlice',
    metadata: { name: 'n1-lockstep.dev' },
    spec: {
      driver: 'lockstep.dev',
      nodeName: 'n1',
      pool: { name: 'n1', generation: 1, resourceSliceCount: 1 },
      devices: [{ name: 'gpu-0', taints: [{ key: 'lockstep.dev/xid', value: '79', effect: 'NoSchedule' }] }],
    },
  };
}

describe('apiServerGates', () => {
  it.each([
    // version, explicit, DRADeviceTaints, DeviceTaintRules, granular status authz, GenericWorkload
    [undefined, {}, false, false, false, false],
    ['1.35', {}, false, false, false, false],
    ['1.36', {}, true, true, true, false],
    ['1.37', {}, true, true, true, false],
    ['1.35', { DRADeviceTaints: true }, true, false, false, false],
    ['1.37', { DRADeviceTaints: false }, false, true, true, false],
    ['1.35', { GenericWorkload: true }, false, false, false, 'v1alpha1'],
    ['1.36', { GenericWorkload: true }, true, true, true, 'v1alpha2'],
    ['1.37', { GenericWorkload: true }, true, true, true, 'v1beta1'],
  ] as const)('%s %j', (version, explicit, taints, taintRules, granular, workload) => {
    const gates = apiServerGates(version, explicit);
    expect([
      gates.DRADeviceTaints,
      gates.DRADeviceTaintRules,
      gates.DRAResourceClaimGranularStatusAuthorization,
      gates.GenericWorkload,
    ]).toEqual([taints, taintRules, granular, workload]);
  });
});

describe('parseFeatureGates', () => {
  it('reads the kube-apiserver syntax and refuses unknown gates and values', () => {
    expect(parseFeatureGates('')).toEqual({});
    expect(parseFeatureGates('GenericWorkload=true, DRADeviceTaints=false')).toEqual({
      GenericWorkload: true,
      DRADeviceTaints: false,
    });
    expect(() => parseFeatureGates('Bogus=true')).toThrow(/bad feature gate "Bogus=true": NAME=true\|false/);
    expect(() => parseFeatureGates('DRADeviceTaints=yes')).toThrow(/bad feature gate/);
    expect(() => parseFeatureGates('DRADeviceTaints')).toThrow(/bad feature gate/);
  });

  it('any text either parses to known gates with boolean values or is refused with one message', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 60 }), (text) => {
        try {
          const gates = parseFeatureGates(text);
          for (const value of Object.values(gates)) expect(typeof value).toBe('boolean');
        } catch (error) {
          expect(String(error)).toMatch(/^Error: bad feature gate /);
        }
      }),
    );
  });
});

describe.each(KUBERNETES_VERSIONS)('the API server emulating %s', (version) => {
  it('says its version, and keeps or drops device taints and serves DeviceTaintRule as that release does', async () => {
    api = await startApiServer({ tls: false, version });
    const info = await getJson(api, '/version');
    expect(info.body).toMatchObject({
      major: '1',
      minor: version.split('.')[1],
      gitVersion: `v${version}.0-lockstep-test`,
    });
    const stored = api.store.create('resourceslices', taintedSlice()) as unknown as {
      spec: { devices: { taints?: unknown[] }[] };
    };
    const kept = version !== '1.35';
    expect(stored.spec.devices[0]?.taints?.length ?? 0).toBe(kept ? 1 : 0);
    expect((await getJson(api, '/apis/resource.k8s.io/v1beta2')).status).toBe(kept ? 200 : 404);
    // Workload/PodGroup is off by default in every release
    expect((await getJson(api, '/apis/scheduling.k8s.io/v1beta1')).status).toBe(404);
  });
});

describe('npm run cluster --version', () => {
  it('a release it does not emulate is one error line and exit 2', async () => {
    const failure = await run(process.execPath, ['--import', 'tsx', 'test/cluster/main.ts', '--version', '1.34']).then(
      () => undefined,
      (error: { code?: number; stderr?: string }) => error,
    );
    expect(failure?.code).toBe(2);
    expect(failure?.stderr).toBe('error: unknown Kubernetes version "1.34": one of 1.35, 1.36, 1.37\n');
  }, 90_000);

  it('a gate the release does not have is one error line and exit 2, as that kube-apiserver refuses it', async () => {
    const args = ['--import', 'tsx', 'test/cluster/main.ts', '--version', '1.35'];
    const failure = await run(process.execPath, [...args, '--feature-gates', 'DRAListTypeAttributes=true']).then(
      () => undefined,
      (error: { code?: number; stderr?: string }) => error,
    );
    expect(failure?.code).toBe(2);
    expect(failure?.stderr).toBe(
      'error: unrecognized feature gate: DRAListTypeAttributes (Kubernetes 1.35 does not have it; 1.36+)\n',
    );
  }, 90_000);
});
