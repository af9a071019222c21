/** Controllers of the test cluster: StatefulSet, Job, JobSet, LeaderWorkerSet controllers-lite and the headless-Service DNS (see ../pods/README.md). */
export {
  headlessRecords,
  hostsText,
} from './dns.js';
export {
  type Job,
  podForIndex,
} from './job.js';
export {
  type JobSet,
  jobFor,
} from './jobset.js';
export {
  type LeaderWorkerSet,
  lwsPod,
} from './lws.js';
export {
  POD_INDEX_LABEL,
  POD_NAME_LABEL,
  podForOrdinal,
  STATEFUL_SETS,
  type StatefulSet,
} from './statefulset.js';
