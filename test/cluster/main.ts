/**
 * `npm run cluster`: the test cluster, standalone. Prints the admin kubeconfig path and runs until Ctrl-C.
 *   npm run cluster -- --no-tls --port 6443 --dir /tmp/cluster
 *   npm run cluster -- --version 1.36 --feature-gates GenericWorkload=true
 * `--version` picks the Kubernetes release to emulate (1.35, 1.36, 1.37: test/cluster/versions.ts); `--feature-gates`
 * overrides that release's defaults, as the kube-apiserver flag does. A bad value is one `error:` line and exit 2.
 */
import { parseArgs } from 'node:util';
import { apiServerGates, type KubernetesVersion, parseFeatureGates, versionProfile } from './versions.js';

const { values } = parseArgs({
  options: {
    'no-tls': { type: 'boolean', default: false },
    port: { type: 'string', default: '0' },
    host: { type: 'string', default: '127.0.0.1' },
    dir: { type: 'string' },
    'device-taints': { type: 'boolean' },
    version: { type: 'string' },
    'feature-gates': { type: 'string', default: '' },
  },
});

let version: KubernetesVersion | undefined;
let explicitGates: ReturnType<typeof parseFeatureGates>;
try {
  version = values.version === undefined ? undefined : versionProfile(values.version).version;
  explicitGates = parseFeatureGates(values['feature-gates']);
} catch (error) {
  process.stderr.write(`error: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(2);
}
if (values['device-taints'] !== undefined) explicitGates.DRADeviceTaints = values['device-taints'];
const gates = apiServerGates(version, explicitGates);
// Loaded once the flags are known good: a bad flag answers at once, without loading the whole cluster.
const { startTestCluster } = await import('./index.js');

const cluster = await startTestCluster({
  apiServer: {
    tls: !values['no-tls'],
    port: Number(values.port),
    host: values.host,
    dir: values.dir,
    featureGates: gates,
  },
  ...(version ? { version } : {}),
});

process.stdout.write(`node ${process.version}\n`);
process.stdout.write(`API server: ${cluster.apiServer.url} (Kubernetes ${version ?? '1.34'})\n`);
const on = Object.entries(gates)
  .filter(([, value]) => value !== false)
  .map(([name, value]) => (value === true ? name : `${name}=${value}`));
process.stdout.write(`feature gates on: ${on.join(', ') || 'none'}\n`);
process.stdout.write(`kubeconfig: ${cluster.kubeconfigPath}\n`);
process.stdout.write(`try: kubectl --kubeconfig ${cluster.kubeconfigPath} get nodes,pods -A\n`);

let stopping = false;
const stop = (signal: string) => {
  if (stopping) return;
  stopping = true;
  process.stdout.write(`${signal}: stopping\n`);
  cluster.stop().then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(`stop failed: ${String(err)}\n`);
      process.exit(1);
    },
  );
};
process.on('SIGINT', () => stop('SIGINT'));
process.on('SIGTERM', () => stop('SIGTERM'));
