/** Controllers of the test cluster: StatefulSet controller-lite and the headless-Service DNS (see ../pods/README.md). */
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
  POD_INDEX_LABEL,
  POD_NAME_LABEL,
  podForOrdinal,
  REVISION_LABEL,
  revision,
  STATEFUL_SETS,
  type StatefulSet,
  StatefulSetController,
} from './statefulset.js';
