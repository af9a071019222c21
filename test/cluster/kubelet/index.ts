/** The kubelet emulator of the test cluster (see README.md). */
export { loadCdiRegistry } from './cdi-rules.js';

export {
  KubeletEmulator,
  type KubeletEmulatorOptions,
} from './emulator.js';
