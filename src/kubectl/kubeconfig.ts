import './node-compat.js';
import { delimiter } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { CliError } from '../cli/errors.js';

export interface KubeconfigOptions {
  /** a path, or several joined with the path delimiter as $KUBECONFIG allows */
  kubeconfig?: string;
  context?: string;
}

export interface LoadedConfig {
  kc: KubeConfig;
  /** the context's namespace, else `default` (kubectl's rule) */
  namespace: string;
}

/**
 * Loads the kubeconfig the way kubectl does: --kubeconfig (or $KUBECONFIG, a list merged first-wins), else
 * ~/.kube/config, else in-cluster; then --context. src/kube/ had no loader when this was written; this one is small
 * enough to move there later. Failures are CliErrors with exit 1; `check` remaps them to "could not check".
 */
export function loadKubeConfig(options: KubeconfigOptions): LoadedConfig {
  const kc = new KubeConfig();
  try {
    if (options.kubeconfig) {
      const files = options.kubeconfig.split(delimiter).filter((f) => f !== '');
      kc.loadFromFile(files[0]!);
      for (const file of files.slice(1)) {
        const more = new KubeConfig();
        more.loadFromFile(file);
        kc.mergeConfig(more, true);
      }
    } else {
      kc.loadFromDefault();
    }
  } catch (err) {
    throw new CliError(1, `cannot load kubeconfig: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (options.context) {
    if (!kc.getContextObject(options.context)) throw new CliError(1, `context "${options.context}" does not exist`);
    kc.setCurrentContext(options.context);
  }
  if (!kc.getCurrentCluster()) {
    throw new CliError(1, 'no cluster in the kubeconfig: set --kubeconfig, $KUBECONFIG or --context');
  }
  const namespace = kc.getContextObject(kc.getCurrentContext())?.namespace || 'default';
  return { kc, namespace };
}
