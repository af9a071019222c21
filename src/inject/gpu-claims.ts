/**
 * `inject --gpu-claims`: a pod template's `nvidia.com/gpu: N` limits become a ResourceClaimTemplate with N lockstep
 * GPUs (DRA allocation and topology alignment instead of the device plugin's count); with `nic`, each GPU comes with
 * a NIC on the same PCIe root (`matchAttribute: resource.kubernetes.io/pcieRoot` per pair, as
 * deploy/examples/claims/eight-gpus-eight-nics.yaml). The template is `<workload>-gpus`, one per workload (all its
 * pods ask alike); every container that asked for GPUs names the claim. Pure; the template comes back to be added.
 *
 * Threats: a quantity that is no positive integer (`1.5`, `-1`, `1k`) is left alone with a note, never rounded.
 */
import { childArray, childObject, isObject, type JsonObject, objectAt, stringAt } from './json.js';
import type { InjectReport } from './options.js';

const GPU_RESOURCE = 'nvidia.com/gpu';
export type GpuClaimsMode = 'gpus' | 'nic';

function count(value: unknown): number | undefined {
  const n = typeof value === 'number' ? value : typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : NaN;
  return Number.isInteger(n) && n > 0 ? n : undefined;
}

function claimTemplateSpec(gpus: number, mode: GpuClaimsMode): JsonObject {
  if (mode === 'gpus') {
    return { devices: { requests: [{ name: 'gpus', exactly: { deviceClassName: 'gpu.lockstep.dev', count: gpus } }] } };
  }
  const requests: JsonObject[] = [];
  const constraints: JsonObject[] = [];
  for (let i = 0; i < gpus; i++) {
    requests.push({ name: `gpu-${i}`, exactly: { deviceClassName: 'gpu.lockstep.dev' } });
    requests.push({ name: `nic-${i}`, exactly: { deviceClassName: 'nic.lockstep.dev' } });
    constraints.push({ requests: [`gpu-${i}`, `nic-${i}`], matchAttribute: 'resource.kubernetes.io/pcieRoot' });
  }
  return { devices: { requests, constraints } };
}

/** Rewrites the templates' GPU limits into a claim; returns the ResourceClaimTemplate to add (none if no GPUs). */
export function applyGpuClaims(
  object: JsonObject,
  templates: readonly JsonObject[],
  mode: GpuClaimsMode | undefined,
  report: InjectReport,
): JsonObject[] {
  if (!mode) return [];
  const metadata = objectAt(object, 'metadata');
  const workload = stringAt(metadata, 'name');
  if (!workload) return [];
  const id = `${String(object.kind)}/${workload}`;
  const claimName = `${workload}-gpus`;
  let gpus: number | undefined;
  for (const template of templates) {
    const podSpec = objectAt(template, 'spec');
    for (const container of Array.isArray(podSpec?.containers) ? podSpec.containers : []) {
      if (!isObject(container)) continue;
      const resources = objectAt(container, 'resources');
      const raw = objectAt(resources, 'limits')?.[GPU_RESOURCE] ?? objectAt(resources, 'requests')?.[GPU_RESOURCE];
      if (raw === undefined) continue;
      const n = count(raw);
      if (n === undefined || (gpus !== undefined && gpus !== n)) {
        report.notes.push(
          `${id}: container ${String(container.name)}: ${GPU_RESOURCE} ${JSON.stringify(raw)} left as it is (--gpu-claims takes one whole number per workload)`,
        );
        continue;
      }
      gpus = n;
      for (const key of ['limits', 'requests']) {
        const list = objectAt(resources, key);
        if (list) {
          delete list[GPU_RESOURCE];
          if (Object.keys(list).length === 0 && resources) delete resources[key];
        }
      }
      const claims = childArray(childObject(container, 'resources'), 'claims');
      if (!claims.some((c) => isObject(c) && c.name === 'gpus')) claims.push({ name: 'gpus' });
      const podClaims = childArray(childObject(template, 'spec'), 'resourceClaims');
      if (!podClaims.some((c) => isObject(c) && c.name === 'gpus')) {
        podClaims.push({ name: 'gpus', resourceClaimTemplateName: claimName });
      }
      report.changes.push(
        `${id}: container ${String(container.name)}: ${GPU_RESOURCE}: ${n} replaced by claim gpus (ResourceClaimTemplate ${claimName}: ${n} lockstep GPU(s)${mode === 'nic' ? ', each with a NIC on its PCIe root' : ''})`,
      );
    }
  }
  if (gpus === undefined) return [];
  const namespace = stringAt(metadata, 'namespace');
  return [
    {
      apiVersion: 'resource.k8s.io/v1',
      kind: 'ResourceClaimTemplate',
      metadata: { name: claimName, ...(namespace ? { namespace } : {}) },
      spec: { spec: claimTemplateSpec(gpus, mode) },
    },
  ];
}
