import { JOBSET } from '../contract/group-identity.js';
import { LWS } from '../contract/names.js';
import { JOB_COMPLETION_INDEX_ANNOTATION, JOBSET_JOB_INDEX_LABEL, RANK_ENV, STS_POD_INDEX_LABEL } from './constants.js';
import { arrayAt, isObject, type Json, type JsonObject, objectAt, stringAt } from './json.js';
import { InjectError, type InjectOptions, type InjectReport } from './options.js';
import { injectPodTemplate, type TemplatePlan } from './pod-template.js';

/** The kinds inject rewrites, by `apiVersion` group and kind. */
export const WORKLOAD_KINDS = ['LeaderWorkerSet', 'StatefulSet', 'Job', 'JobSet'] as const;

function groupOf(apiVersion: string | undefined): string {
  if (!apiVersion?.includes('/')) return '';
  return apiVersion.slice(0, apiVersion.indexOf('/'));
}

/** Is this object one inject rewrites? */
export function isWorkload(object: JsonObject): boolean {
  const kind = stringAt(object, 'kind');
  const group = groupOf(stringAt(object, 'apiVersion'));
  return (
    (kind === 'LeaderWorkerSet' && group === 'leaderworkerset.x-k8s.io') ||
    (kind === 'StatefulSet' && group === 'apps') ||
    (kind === 'Job' && group === 'batch') ||
    (kind === 'JobSet' && group === 'jobset.x-k8s.io')
  );
}

function fieldEnv(name: string, fieldPath: string): JsonObject {
  return { name, valueFrom: { fieldRef: { fieldPath } } };
}

function positiveInt(value: Json | undefined): number | undefined {
  return typeof value === 'number' && Number.isInteger(value) && value > 0 ? value : undefined;
}

/**
 * One workload being rewritten: the object itself, its `Kind/name` for messages, its name (the group is named after
 * it) and its spec.
 */
interface Workload {
  object: JsonObject;
  id: string;
  name: string;
  spec: JsonObject;
}

/** Rewrites one recognised workload in place. */
export function injectWorkload(object: JsonObject, options: InjectOptions, report: InjectReport): void {
  const kind = stringAt(object, 'kind')!;
  const name = stringAt(objectAt(object, 'metadata'), 'name');
  if (!name) throw new InjectError(`${kind}: metadata.name is not set (the group is named after it)`);
  const id = `${kind}/${name}`;
  const spec = objectAt(object, 'spec');
  if (!spec) throw new InjectError(`${id}: has no spec`);
  const workload: Workload = { object, id, name, spec };
  switch (kind) {
    case 'LeaderWorkerSet':
      injectLeaderWorkerSet(workload, options, report);
      return;
    case 'StatefulSet':
      injectStatefulSet(workload, options, report);
      return;
    case 'Job':
      injectJob(workload, options, report);
      warnIfExisting(
        workload,
        'its pod template (spec.template) cannot change on an existing Job',
        `job ${name}`,
        report,
      );
      return;
    case 'JobSet':
      injectJobSet(workload, options, report);
      // a suspended JobSet accepts new pod templates; a running one refuses any change to replicatedJobs
      if (spec.suspend !== true)
        warnIfExisting(
          workload,
          'spec.replicatedJobs cannot change on an existing JobSet that is not suspended',
          `jobset ${name}`,
          report,
        );
      return;
    default:
      throw new InjectError(`${id}: not a kind lockstep injects`);
  }
}

function injectLeaderWorkerSet({ id, name, spec }: Workload, options: InjectOptions, report: InjectReport): void {
  const lwt = objectAt(spec, 'leaderWorkerTemplate');
  const worker = objectAt(lwt, 'workerTemplate');
  if (!lwt || !worker) throw new InjectError(`${id}: spec.leaderWorkerTemplate.workerTemplate is not set`);
  if (positiveInt(lwt.size) === undefined) {
    throw new InjectError(
      `${id}: cannot determine the group size: spec.leaderWorkerTemplate.size is ${lwt.size === undefined ? 'not set' : `${JSON.stringify(lwt.size)}, not a positive integer`}; set it to the number of pods per group, leader included`,
    );
  }
  // LWS puts LWS_LEADER_ADDRESS, LWS_GROUP_SIZE and LWS_WORKER_INDEX on every container, init containers included
  // (FACTS.md §7); the lockstep flags read them, so no group arguments are needed here.
  const leader = objectAt(lwt, 'leaderTemplate');
  if (leader) {
    injectPodTemplate(
      leader,
      {
        ...plan(`${id} spec.leaderWorkerTemplate.leaderTemplate`, name, 'always', [], [], []),
        targets: ['leader'],
        instanceLabelKeys: [LWS.labelGroupKey],
      },
      options,
      report,
    );
  }
  injectPodTemplate(
    worker,
    {
      ...plan(`${id} spec.leaderWorkerTemplate.workerTemplate`, name, leader ? 'never' : 'rank0', [], [], []),
      targets: ['worker'],
      instanceLabelKeys: [LWS.labelGroupKey],
    },
    options,
    report,
  );
  if (spec.startupPolicy !== 'LeaderCreated') {
    // the leader is Ready only once the group runs (GroupReady gate), so workers must not wait for it; written out even
    // where it is the default, so inject and the kustomize component (which cannot test for a field) give one result
    const why =
      spec.startupPolicy === 'LeaderReady'
        ? 'was LeaderReady, which would wait forever: the leader becomes Ready only when its workers have joined'
        : 'the default, written out: workers must not wait for a leader that is Ready only once they have joined';
    spec.startupPolicy = 'LeaderCreated';
    report.changes.push(`${id} spec.startupPolicy: LeaderCreated (${why})`);
  }
  if (!options.keepRestartPolicy && lwt.restartPolicy !== 'None') {
    const before = lwt.restartPolicy === undefined ? 'unset (RecreateGroupOnPodRestart)' : String(lwt.restartPolicy);
    lwt.restartPolicy = 'None';
    report.changes.push(
      `${id} spec.leaderWorkerTemplate: restartPolicy None (was ${before}): lockstep restarts the group in place instead of LWS recreating every pod`,
    );
  }
}

function plan(
  where: string,
  groupLabel: string,
  coordinator: TemplatePlan['coordinator'],
  coordinatorArgs: string[],
  bootstrapArgs: string[],
  env: JsonObject[],
  targets: string[] = [],
): TemplatePlan {
  return { where, groupLabel, coordinator, coordinatorArgs, bootstrapArgs, env, targets };
}

/** Read from a cluster (`kubectl get -o yaml`) rather than written by hand: immutable fields are fixed by now. */
function exists(object: JsonObject): boolean {
  const metadata = objectAt(object, 'metadata');
  return stringAt(metadata, 'uid') !== undefined || stringAt(metadata, 'resourceVersion') !== undefined;
}

/**
 * Warns, for an object read from a cluster, that the API server will refuse the injected change to an immutable field,
 * and names the recreate step (README: "Existing workloads"); nothing is warned for a manifest written by hand.
 */
function warnIfExisting({ object, id }: Workload, what: string, resource: string, report: InjectReport): void {
  if (!exists(object)) return;
  report.warnings.push(
    `${id} exists already (it has metadata.uid/resourceVersion): ${what} and the API server will refuse the update; recreate it: kubectl delete ${resource}, then apply this output (README: "Existing workloads")`,
  );
}

function injectStatefulSet({ object, id, name, spec }: Workload, options: InjectOptions, report: InjectReport): void {
  const replicas = positiveInt(spec.replicas);
  if (replicas === undefined) {
    throw new InjectError(
      `${id}: cannot determine the group size: spec.replicas is ${spec.replicas === undefined ? 'not set' : `${JSON.stringify(spec.replicas)}, not a positive integer`}; a group needs a fixed number of pods`,
    );
  }
  const service = stringAt(spec, 'serviceName');
  if (!service) {
    throw new InjectError(
      `${id}: spec.serviceName is not set: members reach rank 0 by its DNS name through the StatefulSet's headless Service`,
    );
  }
  const template = objectAt(spec, 'template');
  if (!template) throw new InjectError(`${id}: spec.template is not set`);
  if (spec.podManagementPolicy !== 'Parallel') {
    // OrderedReady starts pod 1 only once pod 0 is Ready, and pod 0 is Ready only once the whole group runs
    const before = spec.podManagementPolicy === undefined ? 'unset (OrderedReady)' : String(spec.podManagementPolicy);
    spec.podManagementPolicy = 'Parallel';
    report.changes.push(
      `${id} spec: podManagementPolicy Parallel (was ${before}, which would wait forever: pod 0 becomes Ready only when every member has joined)`,
    );
    if (exists(object)) {
      // the API server refuses to change this field of a StatefulSet that exists: say so now, not at apply time
      report.warnings.push(
        `${id} exists already (it has metadata.uid/resourceVersion): podManagementPolicy cannot change on an existing StatefulSet and the API server will refuse the update; recreate it, keeping its pods: kubectl delete statefulset ${name} --cascade=orphan, then apply this output (README: "Existing workloads")`,
      );
    }
  }
  const rank = `metadata.labels['${STS_POD_INDEX_LABEL}']`;
  injectOrdinalTemplate({ id, name, template, size: replicas, subdomain: service, rank }, options, report);
}

/**
 * The one template of a StatefulSet or an indexed Job: pod 0 (`<name>-0.<subdomain>`) coordinates, and each pod's
 * rank is read from the field the workload's controller numbers it by.
 */
function injectOrdinalTemplate(
  workload: { id: string; name: string; template: JsonObject; size: number; subdomain: string; rank: string },
  options: InjectOptions,
  report: InjectReport,
): void {
  const { id, name, subdomain } = workload;
  const size = `--group-size=${workload.size}`;
  injectPodTemplate(
    workload.template,
    plan(
      `${id} spec.template`,
      name,
      'rank0',
      [`--group=${name}`, size],
      [size, `--leader-address=${name}-0.${subdomain}.$(POD_NAMESPACE)`],
      [fieldEnv(RANK_ENV, workload.rank)],
      [name],
    ),
    options,
    report,
  );
}

/** Group size of an indexed Job spec: every index runs at once, so completions = parallelism. */
function indexedJobSize(where: string, job: JsonObject | undefined, indexedByDefault: boolean): number {
  if (!job) throw new InjectError(`${where}: has no Job spec`);
  const mode = job.completionMode;
  if (!(mode === 'Indexed' || (mode === undefined && indexedByDefault))) {
    throw new InjectError(
      `${where}: completionMode is ${mode === undefined ? 'not set (NonIndexed)' : String(mode)}; lockstep needs completionMode: Indexed so every pod has a rank`,
    );
  }
  const completions = positiveInt(job.completions);
  if (completions === undefined) {
    throw new InjectError(
      `${where}: cannot determine the group size: completions is ${job.completions === undefined ? 'not set' : `${JSON.stringify(job.completions)}, not a positive integer`}`,
    );
  }
  const parallelism = job.parallelism === undefined ? 1 : positiveInt(job.parallelism);
  if (parallelism !== completions) {
    throw new InjectError(
      `${where}: cannot determine the group size: parallelism (${job.parallelism === undefined ? 'not set, so 1' : JSON.stringify(job.parallelism)}) differs from completions (${completions}); a group runs all its pods at once, so set both to the group size`,
    );
  }
  return completions;
}

function injectJob({ id, name, spec }: Workload, options: InjectOptions, report: InjectReport): void {
  const size = indexedJobSize(`${id} spec`, spec, false);
  const template = objectAt(spec, 'template');
  if (!template) throw new InjectError(`${id}: spec.template is not set`);
  const subdomain = stringAt(objectAt(template, 'spec'), 'subdomain');
  if (!subdomain) {
    throw new InjectError(
      `${id}: spec.template.spec.subdomain is not set: members reach rank 0 (${name}-0) through a headless Service named by subdomain`,
    );
  }
  const rank = `metadata.annotations['${JOB_COMPLETION_INDEX_ANNOTATION}']`;
  injectOrdinalTemplate({ id, name, template, size, subdomain, rank }, options, report);
}

const JOB_INDEX_ENV = 'LOCKSTEP_JOB_INDEX';

function injectJobSet({ id, name, spec }: Workload, options: InjectOptions, report: InjectReport): void {
  const network = objectAt(spec, 'network');
  if (network?.enableDNSHostnames === false) {
    throw new InjectError(
      `${id}: spec.network.enableDNSHostnames is false: members reach rank 0 by its DNS name, so it must stay on`,
    );
  }
  const subdomain = stringAt(network, 'subdomain') ?? name;
  const jobs = arrayAt(spec, 'replicatedJobs');
  if (!jobs || jobs.length === 0) throw new InjectError(`${id}: spec.replicatedJobs is empty`);
  jobs.forEach((rj, i) => {
    const where = `${id} spec.replicatedJobs[${i}]`;
    const rjName = isObject(rj) ? stringAt(rj, 'name') : undefined;
    if (!isObject(rj) || !rjName) throw new InjectError(`${where}: has no name`);
    const jobSpec = objectAt(objectAt(rj, 'template'), 'spec');
    // JobSet defaults its Jobs to Indexed; each child Job (one per replica) is one group.
    const size = indexedJobSize(`${where}.template.spec`, jobSpec, true);
    const template = objectAt(jobSpec, 'template');
    if (!template) throw new InjectError(`${where}: template.spec.template is not set`);
    const prefix = `${name}-${rjName}-$(${JOB_INDEX_ENV})`;
    const sizeArg = `--group-size=${size}`;
    injectPodTemplate(
      template,
      {
        ...plan(
          `${where}.template.spec.template`,
          name,
          'rank0',
          [`--group=${prefix}`, sizeArg],
          [sizeArg, `--leader-address=${prefix}-0.${subdomain}.$(POD_NAMESPACE)`],
          [
            fieldEnv(RANK_ENV, `metadata.annotations['${JOB_COMPLETION_INDEX_ANNOTATION}']`),
            fieldEnv(JOB_INDEX_ENV, `metadata.labels['${JOBSET_JOB_INDEX_LABEL}']`),
          ],
          [rjName],
        ),
        instanceLabelKeys: [JOBSET.labelJobKey],
      },
      options,
      report,
    );
  });
}
