/**
 * `inject --gang`: gang scheduling for a group (KEP-4671, FACTS.md §11), so the scheduler places the group whole or
 * not at all and never holds half its GPUs while the rest wait. Pure: the workload is changed in place and the
 * objects to add come back.
 *
 * Shapes (k8s.io/api scheduling/v1alpha1, v1alpha2; v1beta1 keeps v1alpha2's):
 *  - 1.36+ (`scheduling.k8s.io/v1alpha2`, `/v1beta1`): a PodGroup `spec.schedulingPolicy.gang.minCount` = group size,
 *    and every pod template's `spec.schedulingGroup.podGroupName` naming it;
 *  - 1.35 (`scheduling.k8s.io/v1alpha1`): a Workload with one pod group `spec.podGroups[{name, policy.gang.minCount}]`
 *    and `spec.workloadRef {name, podGroup}` on the templates.
 * The object is named after the workload (the group's name). A StatefulSet and an indexed Job are one group each;
 * a LeaderWorkerSet with one replica is one group (leader and worker templates join it). A LeaderWorkerSet with more
 * replicas and a JobSet stamp several groups out of one template, which can name only one PodGroup: their
 * controllers create a PodGroup per group from a Workload (LWS and JobSet are adopting it), so inject leaves them
 * alone and says so.
 *
 * Threats: a template already naming a group (the user's own, or a second injection) is left as it is, so nothing
 * is joined twice or moved to another group; names come from the workload's own (validated by the API server).
 */
import { childObject, type JsonObject, objectAt, setKey, stringAt } from './json.js';
import type { InjectReport } from './options.js';

/** What the cluster offers for gangs: the scheduling.k8s.io version to write, or why there is no gang. */
export type GangPlan = { apiVersion: string } | { off: string };

/** The name of the pod group inside a v1alpha1 Workload. */
const WORKLOAD_POD_GROUP = 'group';

export const SCHEDULING_GROUP = 'scheduling.k8s.io';

/** The scheduling.k8s.io versions `--gang-api-version` accepts: v1alpha1 Workloads (1.35), v1alpha2/v1beta1 PodGroups. */
export const GANG_API_VERSIONS = ['v1alpha1', 'v1alpha2', 'v1beta1'] as const;

function positiveInt(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isInteger(value) && value > 0 ? value : undefined;
}

/** The pod templates of one group and its size, or why this workload gets no PodGroup from inject. */
function groupOf(object: JsonObject): { templates: JsonObject[]; size: number } | string {
  const spec = objectAt(object, 'spec');
  switch (object.kind) {
    case 'StatefulSet': {
      const size = positiveInt(spec?.replicas);
      const template = objectAt(spec, 'template');
      return size && template ? { templates: [template], size } : 'no fixed size';
    }
    case 'Job': {
      const size = positiveInt(spec?.completions);
      const template = objectAt(spec, 'template');
      return size && template ? { templates: [template], size } : 'no fixed size';
    }
    case 'LeaderWorkerSet': {
      const replicas = spec?.replicas === undefined ? 1 : positiveInt(spec.replicas);
      if (replicas !== 1) {
        return `its ${String(spec?.replicas)} replicas are groups stamped from one pod template, which can name only one PodGroup; the LeaderWorkerSet controller creates a PodGroup per group where it supports Workloads`;
      }
      const lwt = objectAt(spec, 'leaderWorkerTemplate');
      const size = positiveInt(lwt?.size);
      const templates = [objectAt(lwt, 'leaderTemplate'), objectAt(lwt, 'workerTemplate')].filter(
        (t): t is JsonObject => t !== undefined,
      );
      return size && templates.length > 0 ? { templates, size } : 'no fixed size';
    }
    case 'JobSet':
      return 'its child Jobs are groups stamped from one pod template, which can name only one PodGroup; the JobSet controller creates a PodGroup per Job where it supports Workloads';
    default:
      return 'not a group';
  }
}

function alreadyGrouped(template: JsonObject): boolean {
  const podSpec = objectAt(template, 'spec');
  return podSpec?.schedulingGroup !== undefined || podSpec?.workloadRef !== undefined;
}

/**
 * Gives an injected workload's group gang scheduling: sets the group reference on its pod templates and returns the
 * PodGroup (or 1.35 Workload) to add to the output, each change reported; nothing when the plan is off (the reason
 * goes to the notes `--explain` prints) or the templates already name a group.
 */
export function applyGang(object: JsonObject, plan: GangPlan | undefined, report: InjectReport): JsonObject[] {
  if (!plan) return [];
  const metadata = objectAt(object, 'metadata');
  const name = stringAt(metadata, 'name');
  const id = `${String(object.kind)}/${name ?? ''}`;
  if ('off' in plan) {
    report.notes.push(`${id}: no gang scheduling: ${plan.off}`);
    return [];
  }
  const group = groupOf(object);
  if (typeof group === 'string') {
    report.notes.push(`${id}: no PodGroup from inject: ${group}`);
    return [];
  }
  if (!name) return [];
  if (group.templates.some(alreadyGrouped)) {
    report.notes.push(`${id}: its pods already name a scheduling group; left as it is`);
    return [];
  }
  const namespace = stringAt(metadata, 'namespace');
  const objectMeta: JsonObject = { name, ...(namespace ? { namespace } : {}) };
  const v1alpha1 = plan.apiVersion === `${SCHEDULING_GROUP}/v1alpha1`;
  for (const template of group.templates) {
    const podSpec = childObject(template, 'spec');
    if (v1alpha1) setKey(podSpec, 'workloadRef', { name, podGroup: WORKLOAD_POD_GROUP }, ['containers']);
    else setKey(podSpec, 'schedulingGroup', { podGroupName: name }, ['containers']);
  }
  const gang = { gang: { minCount: group.size } };
  if (v1alpha1) {
    report.changes.push(
      `${id}: pods join Workload ${name} (spec.workloadRef, pod group ${WORKLOAD_POD_GROUP}), added with gang minCount ${group.size}: the group is scheduled whole or not at all (${plan.apiVersion})`,
    );
    return [
      {
        apiVersion: plan.apiVersion,
        kind: 'Workload',
        metadata: objectMeta,
        spec: { podGroups: [{ name: WORKLOAD_POD_GROUP, policy: gang }] },
      },
    ];
  }
  report.changes.push(
    `${id}: pods join PodGroup ${name} (spec.schedulingGroup), added with gang minCount ${group.size}: the group is scheduled whole or not at all and holds no GPU while it waits (${plan.apiVersion})`,
  );
  return [{ apiVersion: plan.apiVersion, kind: 'PodGroup', metadata: objectMeta, spec: { schedulingPolicy: gang } }];
}
