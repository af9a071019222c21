import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { DomainError, errorMessage } from '../errors.js';
import { unreadableFileReason } from '../fs/input-checks.js';
import { SERVICE_ACCOUNT_DIR } from './in-cluster.js';

export interface KubeConfigSource {
  /** --kubeconfig (may be a `:`-separated list, as $KUBECONFIG can be) */
  kubeconfig?: string;
  /** --context */
  context?: string;
  env?: NodeJS.ProcessEnv;
  /** prefix in front of the service-account mount (tests build a fake one); client-node reads it the same way */
  inClusterRoot?: string;
}

export { SERVICE_ACCOUNT_DIR } from './in-cluster.js';

/**
 * Loads the client configuration the way kubectl users expect, in this order: an explicit --kubeconfig (or
 * $KUBECONFIG through the flag's env twin), the in-cluster service account when running in a pod, then
 * ~/.kube/config. Every failure is a DomainError (`failed`: not a usage error, the flags were fine) that says which
 * source was tried. A missing file in a list is skipped (as kubectl skips missing $KUBECONFIG entries); a file that is
 * there but is a directory, a special file or not readable is its own error, never taken for "absent".
 */
export function loadKubeConfig(source: KubeConfigSource = {}): KubeConfig {
  const env = source.env ?? process.env;
  const kc = new KubeConfig();
  const explicit = source.kubeconfig ?? (env.KUBECONFIG || undefined);
  const root = source.inClusterRoot ?? '';
  if (explicit) {
    const files = explicit.split(delimiter).filter((f) => f !== '');
    const found: string[] = [];
    for (const file of files) {
      const problem = unreadableFileReason(file);
      if (problem?.missing === false) throw new DomainError('failed', `kubeconfig ${file} ${problem.reason}`);
      if (!problem) found.push(file);
    }
    if (found.length === 0) {
      throw new DomainError('failed', `kubeconfig ${explicit} does not exist`);
    }
    for (const [i, file] of found.entries()) {
      const next = new KubeConfig();
      try {
        next.loadFromFile(file);
      } catch (err) {
        throw new DomainError('failed', `kubeconfig ${file} is not valid: ${errorMessage(err)}`);
      }
      // as kubectl merges: the first file that names a cluster, user or context wins, and so does its current context
      if (i === 0) kc.loadFromString(next.exportConfig());
      else {
        for (const c of next.getClusters()) if (!kc.getCluster(c.name)) kc.addCluster(c);
        for (const u of next.getUsers()) if (!kc.getUser(u.name)) kc.addUser(u);
        for (const c of next.getContexts()) if (!kc.getContextObject(c.name)) kc.addContext(c);
        if (!kc.getCurrentContext()) kc.setCurrentContext(next.getCurrentContext());
      }
    }
  } else if (env.KUBERNETES_SERVICE_HOST && existsSync(`${root}${SERVICE_ACCOUNT_DIR}/token`)) {
    // client-node reads KUBERNETES_SERVICE_HOST/PORT from process.env itself
    kc.loadFromCluster(root);
  } else {
    const home = join(env.HOME ?? homedir(), '.kube', 'config');
    const problem = unreadableFileReason(home);
    if (problem?.missing === false) throw new DomainError('failed', `kubeconfig ${home} ${problem.reason}`);
    if (problem) {
      throw new DomainError(
        'failed',
        'no Kubernetes configuration: pass --kubeconfig, set KUBECONFIG, run in a pod, or create ~/.kube/config',
      );
    }
    try {
      kc.loadFromFile(home);
    } catch (err) {
      throw new DomainError('failed', `kubeconfig ${home} is not valid: ${errorMessage(err)}`);
    }
  }
  if (source.context) {
    if (!kc.getContextObject(source.context)) {
      throw new DomainError('failed', `context "${source.context}" is not in the kubeconfig`);
    }
    kc.setCurrentContext(source.context);
  }
  if (!kc.getCurrentCluster()) {
    throw new DomainError('failed', `kubeconfig has no cluster for context "${kc.getCurrentContext()}"`);
  }
  return kc;
}
