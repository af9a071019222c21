/**
 * `npm run cluster`: the test cluster, standalone. Prints the admin kubeconfig path and runs until Ctrl-C.
 *   npm run cluster -- --no-tls --port 6443 --dir /tmp/cluster
 */
import { parseArgs } from 'node:util';
import { startTestCluster } from './index.js';

const { values } = parseArgs({
  options: {
    'no-tls': { type: 'boolean', default: false },
    port: { type: 'string', default: '0' },
    host: { type: 'string', default: '127.0.0.1' },
    dir: { type: 'string' },
    'device-taints': { type: 'boolean', default: false },
  },
});

const cluster = await startTestCluster({
  apiServer: {
    tls: !values['no-tls'],
    port: Number(values.port),
    host: values.host,
    dir: values.dir,
    featureGates: { DRADeviceTaints: values['device-taints'] },
  },
});

process.stdout.write(`node ${process.version}\n`);
process.stdout.write(`API server: ${cluster.apiServer.url}\n`);
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
