import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { injectText } from '../../src/inject/text.js';
import { runBundle } from '../support/cli.js';

/** `inject --gpu-claims` (src/inject/gpu-claims.ts) on the LWS fixture whose leader and workers ask for 8 GPUs. */
const input = readFileSync(join(import.meta.dirname, 'fixtures', 'lws-vllm-ray.yaml'), 'utf8');
type Doc = { kind: string; metadata: { name: string }; spec: Record<string, unknown> };
const docs = (text: string) => parseAllDocuments(text).map((d) => d.toJS() as Doc);
const IMAGE = 'ghcr.io/lockstep-dev/lockstep:v0.0.0-test';

describe('inject --gpu-claims', () => {
  it('nvidia.com/gpu: 8 becomes claim gpus from a ResourceClaimTemplate of 8 lockstep GPUs, on every template', () => {
    const { output, report } = injectText(input, { image: IMAGE, gpuClaims: 'gpus' });
    expect(output).not.toContain('nvidia.com/gpu');
    const all = docs(output);
    const lws = all.find((d) => d.kind === 'LeaderWorkerSet')!;
    const lwt = lws.spec.leaderWorkerTemplate as Record<
      string,
      { spec: { resourceClaims: unknown[]; containers: { resources?: { claims?: unknown[] } }[] } }
    >;
    for (const t of ['leaderTemplate', 'workerTemplate']) {
      expect(lwt[t]!.spec.resourceClaims).toEqual([{ name: 'gpus', resourceClaimTemplateName: 'vllm-gpus' }]);
      expect(
        lwt[t]!.spec.containers.some((c) => c.resources?.claims?.some((x) => (x as { name: string }).name === 'gpus')),
      ).toBe(true);
    }
    expect(all.at(-1)).toEqual({
      apiVersion: 'resource.k8s.io/v1',
      kind: 'ResourceClaimTemplate',
      metadata: { name: 'vllm-gpus' },
      spec: {
        spec: { devices: { requests: [{ name: 'gpus', exactly: { deviceClassName: 'gpu.lockstep.dev', count: 8 } }] } },
      },
    });
    expect(report.changes.filter((c) => c.includes('nvidia.com/gpu: 8 replaced by claim gpus'))).toHaveLength(2);
    // idempotent: no GPU limits left, the template is present
    const again = injectText(output, { image: IMAGE, gpuClaims: 'gpus' });
    expect(again.output).toBe(output);
  });

  it('nic: each GPU comes with a NIC on its PCIe root', () => {
    const { output } = injectText(input, { image: IMAGE, gpuClaims: 'nic' });
    const template = docs(output).at(-1)!;
    const devices = (template.spec.spec as { devices: { requests: { name: string }[]; constraints: unknown[] } })
      .devices;
    expect(devices.requests).toHaveLength(16);
    expect(devices.constraints[7]).toEqual({
      requests: ['gpu-7', 'nic-7'],
      matchAttribute: 'resource.kubernetes.io/pcieRoot',
    });
  });

  it('a quantity that is no whole number is left alone with a note', () => {
    const odd = input.replace('nvidia.com/gpu: "8" # one host', 'nvidia.com/gpu: "1.5" # one host');
    const { report } = injectText(odd, { image: IMAGE, gpuClaims: 'gpus' });
    expect(report.notes.some((n) => n.includes('nvidia.com/gpu "1.5" left as it is'))).toBe(true);
  });

  it('the bundled CLI: --gpu-claims with --explain', () => {
    const r = runBundle('lockstep', [
      'inject',
      '--no-gang',
      '--gpu-claims',
      '--explain',
      '-f',
      join(import.meta.dirname, 'fixtures', 'lws-vllm-ray.yaml'),
    ]);
    expect(r.status).toBe(0);
    expect(r.stderr).toContain(
      'nvidia.com/gpu: 8 replaced by claim gpus (ResourceClaimTemplate vllm-gpus: 8 lockstep GPU(s))',
    );
    expect(r.stdout).toContain('kind: ResourceClaimTemplate');
  });
});
