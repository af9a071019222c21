import { flag } from '../cli/options.js';

/** Flags several commands share, defined once so their names and env twins never drift apart. */
export const kubeconfigFlag = (env: NodeJS.ProcessEnv) =>
  flag(
    {
      flags: '--kubeconfig <path>',
      description: 'kubeconfig file (default: in-cluster config, then $KUBECONFIG, then ~/.kube/config)',
      alsoEnv: ['KUBECONFIG'],
    },
    env,
  );

export const nodeNameFlag = (env: NodeJS.ProcessEnv) =>
  flag({ flags: '--node-name <name>', description: 'this node’s name', alsoEnv: ['NODE_NAME'] }, env);

export const namespaceFlag = (env: NodeJS.ProcessEnv) =>
  flag({ flags: '--namespace <ns>', description: 'namespace of this pod', alsoEnv: ['POD_NAMESPACE'] }, env);

export const podNameFlag = (env: NodeJS.ProcessEnv) =>
  flag({ flags: '--pod-name <name>', description: 'this pod’s name', alsoEnv: ['POD_NAME', 'HOSTNAME'] }, env);

export const sysfsRootFlag = (env: NodeJS.ProcessEnv) =>
  flag({ flags: '--sysfs-root <dir>', description: 'root of the sysfs tree', default: '/sys' }, env);

export const devRootFlag = (env: NodeJS.ProcessEnv) =>
  flag({ flags: '--dev-root <dir>', description: 'root of the device node tree', default: '/dev' }, env);

export const nvidiaSmiFlag = (env: NodeJS.ProcessEnv) =>
  flag({ flags: '--nvidia-smi <path>', description: 'nvidia-smi executable', default: 'nvidia-smi' }, env);
