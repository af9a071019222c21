/** The kubelet emulator of the test cluster (see README.md). */
export { type CdiRegistryDevice, loadCdiRegistry, parseCdiId, validateCdiSpec } from './cdi-rules.js';
export { chooseDraVersion, type DraPluginInfo, DraPlugins } from './dra-plugins.js';
export {
  type ClaimInfo,
  type ContainerRuntime,
  KubeletEmulator,
  type KubeletEmulatorOptions,
  type PodRuntime,
} from './emulator.js';
export { DEFAULT_HEALTH_TIMEOUT_MS, HealthCache, type ResourceHealth } from './health-cache.js';
export {
  DRA_CALL_TIMEOUT_MS,
  DraClient,
  GET_INFO_TIMEOUT_MS,
  KUBELET_DRA_VERSIONS,
  RegistrationClient,
} from './plugin-client.js';
export { allocatedResourcesStatus, resolveClaimName } from './pod-status.js';
export { type RegistrationOutcome, RegistrationWatcher } from './registration-watcher.js';
