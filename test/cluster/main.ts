/**
 * `npm run cluster`: the test cluster, standalone. Prints the admin kubeconfig path and runs until Ctrl-C.
 *   npm run cluster -- --no-tls --port 6443 --dir /tmp/cluster
 *   npm run cluster -- --version 1.36 --feature-gates GenericWorkload=true
 *   npm run cluster -- --nodes h100,h100     (the playground: simulated nodes, their kubelets and real agents)
 * `--version` picks the Kubernetes release to emulate (1.35, 1.36, 1.37: test/cluster/versions.ts); `--feature-gates`
 * overrides that release's defaults, as the kube-apiserver flag does. A bad value is one `error:` line and exit 2.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { onTermination } from '../../src/signals.js';
import type { SimulatedNodeKind } from './nodes/index.js';
import { parseNodeKinds } from './playground-nodes.js';
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
    nodes: { type: 'string' },
  },
});
const REPO_ROOT = join(import.meta.dirname, '..', '..');
const say = (line: string) => process.stdout.write(`${line}\n`);

let version: KubernetesVersion | undefined;
let gates: ReturnType<typeof apiServerGates>;
let kinds: SimulatedNodeKind[] | undefined;
try {
  version = values.version === undefined ? undefined : versionProfile(values.version).version;
  const explicitGates = parseFeatureGates(values['feature-gates']);
  if (values['device-taints'] !== undefined) explicitGates.DRADeviceTaints = values['device-taints'];
  // a gate the release does not have (DRAListTypeAttributes on 1.35) is refused, as that kube-apiserver refuses it
  gates = apiServerGates(version, explicitGates);
  kinds = values.nodes === undefined ? undefined : parseNodeKinds(values.nodes);
} catch (error) {
  process.stderr.write(`error: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(2);
}
if (kinds && !existsSync(join(REPO_ROOT, 'dist', 'lockstep.mjs'))) {
  process.stderr.write(
    'error: --nodes runs the agents from dist/: run `npm run build` first (`npm run cluster` does)\n',
  );
  process.exit(1);
}
// Loaded once the flags are known good: a bad flag answers at once, without loading the whole cluster.
const { startTestCluster } = await import('./index.js');
const apiServer = {
  tls: !values['no-tls'],
  port: Number(values.port),
  host: values.host,
  featureGates: gates,
};

say(`node ${process.version}`);
let stopCluster: () => Promise<void>;
let started: { url: string; kubeconfigPath: string };
const failed = (what: string) => (error: unknown) => {
  process.stderr.write(`error: ${what} did not start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
};
if (kinds) {
  const { startPlayground } = await import('./playground.js');
  const ownDir = values.dir === undefined;
  const dir = values.dir ?? mkdtempSync(join(tmpdir(), 'lockstep-playground-'));
  const playground = await startPlayground({ kinds, dir, apiServer, ...(version ? { version } : {}) }).catch(
    failed('the playground'),
  );
  if (!playground) process.exit(1);
  stopCluster = async () => {
    await playground.stop();
    if (ownDir) rmSync(dir, { recursive: true, force: true });
  };
  started = { url: playground.cluster.apiServer.url, kubeconfigPath: playground.cluster.kubeconfigPath };
  say(`API server: ${started.url} (Kubernetes ${version ?? '1.34'})`);
  say(`kubeconfig: ${started.kubeconfigPath}`);
  for (const node of playground.nodes) say(`agent ${node.name} (${node.kind}): pid ${node.agent.pids[0] ?? '?'}`);
  const devices = await playground.waitForDevices(120_000);
  if (devices) say(`ready: ${[...devices].map(([node, n]) => `${node} published ${n} devices`).join(', ')}`);
  else say(`not every agent published within 120 s; their logs: ${dir}/agent-*.log`);
  say('try:');
  say(`  export KUBECONFIG=${started.kubeconfigPath} PATH=${playground.binDir}:$PATH`);
  say('  kubectl get nodes && kubectl lockstep nodes');
  say(`  kubectl apply -f ${playground.examplePath}   # a 2-pod torch.distributed group (python3-torch)`);
  say(`  kubectl lockstep groups -n ${playground.namespace} -w`);
} else {
  const cluster = await startTestCluster({
    apiServer: { ...apiServer, dir: values.dir },
    ...(version ? { version } : {}),
  }).catch(failed('the test cluster'));
  if (!cluster) process.exit(1);
  stopCluster = () => cluster.stop();
  started = { url: cluster.apiServer.url, kubeconfigPath: cluster.kubeconfigPath };
  say(`API server: ${started.url} (Kubernetes ${version ?? '1.34'})`);
  const on = Object.entries(gates)
    .filter(([, value]) => value !== false)
    .map(([name, value]) => (value === true ? name : `${name}=${value}`));
  say(`feature gates on: ${on.join(', ') || 'none'}`);
  say(`kubeconfig: ${started.kubeconfigPath}`);
  say(`try: kubectl --kubeconfig ${started.kubeconfigPath} get nodes,pods -A`);
}

let stopping = false;
const stop = (signal: string) => {
  if (stopping) return;
  stopping = true;
  process.stdout.write(`${signal}: stopping\n`);
  stopCluster().then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(`stop failed: ${String(err)}\n`);
      process.exit(1);
    },
  );
};
onTermination(stop);
