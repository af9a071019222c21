import { textFlag } from '../cli/define-flags.js';

/** Flags several commands share, defined once so their names, env twins and defaults never drift apart. */
export const kubeconfigFlag = textFlag({
  flags: '--kubeconfig <path>',
  description: 'kubeconfig file (default: in-cluster config, then $KUBECONFIG, then ~/.kube/config)',
  alsoEnv: ['KUBECONFIG'],
});

export const nodeNameFlag = textFlag({
  flags: '--node-name <name>',
  description: 'this node’s name',
  alsoEnv: ['NODE_NAME'],
});

export const namespaceFlag = textFlag({
  flags: '--namespace <ns>',
  description: 'namespace of this pod',
  alsoEnv: ['POD_NAMESPACE'],
});

export const podNameFlag = textFlag({
  flags: '--pod-name <name>',
  description: 'this pod’s name',
  alsoEnv: ['POD_NAME', 'HOSTNAME'],
});

export const sysfsRootFlag = textFlag({
  flags: '--sysfs-root <dir>',
  description: 'root of the sysfs tree',
  default: '/sys',
});

export const devRootFlag = textFlag({
  flags: '--dev-root <dir>',
  description: 'root of the device node tree',
  default: '/dev',
});

/** The name an explicit `--nvidia-smi` is told apart from (the agent then prefers the one under --driver-root). */
export const NVIDIA_SMI = 'nvidia-smi';

export const nvidiaSmiFlag = textFlag({
  flags: '--nvidia-smi <path>',
  description: 'nvidia-smi executable',
  default: NVIDIA_SMI,
});
