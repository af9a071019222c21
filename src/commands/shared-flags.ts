import { flag } from '../cli/define-flags.js';
import { DOWNWARD_ENV } from '../inject/constants.js';

/** Flags several commands share, defined once so their names, env twins and defaults never drift apart. */
export const kubeconfigFlag = flag.text({
  flags: '--kubeconfig <path>',
  description: 'kubeconfig file (default: in-cluster config, then $KUBECONFIG, then ~/.kube/config)',
  alsoEnv: ['KUBECONFIG'],
});

export const nodeNameFlag = flag.text({
  flags: '--node-name <name>',
  description: 'this node’s name',
  alsoEnv: [DOWNWARD_ENV.nodeName.name],
});

export const namespaceFlag = flag.text({
  flags: '--namespace <ns>',
  description: 'namespace of this pod',
  alsoEnv: [DOWNWARD_ENV.namespace.name],
});

export const podNameFlag = flag.text({
  flags: '--pod-name <name>',
  description: 'this pod’s name',
  alsoEnv: [DOWNWARD_ENV.podName.name, 'HOSTNAME'],
});

export const sysfsRootFlag = flag.text({
  flags: '--sysfs-root <dir>',
  description: 'root of the sysfs tree',
  default: '/sys',
});

export const devRootFlag = flag.text({
  flags: '--dev-root <dir>',
  description: 'root of the device node tree',
  default: '/dev',
});

/** The name an explicit `--nvidia-smi` is told apart from (the agent then prefers the one under --driver-root). */
export const NVIDIA_SMI = 'nvidia-smi';

export const nvidiaSmiFlag = flag.text({
  flags: '--nvidia-smi <path>',
  description: 'nvidia-smi executable',
  default: NVIDIA_SMI,
});
