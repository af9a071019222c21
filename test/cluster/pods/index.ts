/** Pods that really run: the container runtime of the simulated nodes (see README.md). */
export { AddressPool } from './addresses.js';
export { type NodeRuntime, type NodeRuntimeOptions, startNodeRuntime } from './node-runtime.js';
export { NETNS_PRELOAD, PodRunner, type PodRunnerOptions, type RunnerPodStatus } from './runner.js';
export {
  ContainerConfigError,
  containerArgv,
  containerEnv,
  fieldRefValue,
  isLockstepImage,
  isPythonImage,
  LOCKSTEP_PATH_DEFAULTS,
  localArgv,
  lockstepPathEnv,
  podSpecView,
  rewritePaths,
} from './spec.js';
export { requestToken, setUpVolumes } from './volumes.js';
