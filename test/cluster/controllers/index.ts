/** Controllers of the test cluster: StatefulSet, Job, JobSet, LeaderWorkerSet controllers-lite and the headless-Service DNS (see ../pods/README.md). */
export {
  CLUSTER_DOMAIN,
  ClusterDns,
  type ClusterDnsOptions,
  type DnsRecord,
  headlessRecords,
  hostsText,
  SERVICES,
} from './dns.js';
export {
  COMPLETION_INDEX,
  COMPLETION_INDEX_ENV,
  JOB_NAME_LABEL,
  JOBS,
  type Job,
  JobController,
  podForIndex,
} from './job.js';
export {
  JOBSET_KEYS,
  JOBSETS,
  type JobSet,
  JobSetController,
  jobFor,
  jobSetLabels,
  jobSetSubdomain,
} from './jobset.js';
export {
  LEADER_WORKER_SETS,
  type LeaderWorkerSet,
  LeaderWorkerSetController,
  LWS_KEYS,
  lwsPod,
  lwsSubdomain,
} from './lws.js';
export {
  POD_INDEX_LABEL,
  POD_NAME_LABEL,
  podForOrdinal,
  REVISION_LABEL,
  revision,
  STATEFUL_SETS,
  type StatefulSet,
  StatefulSetController,
} from './statefulset.js';
