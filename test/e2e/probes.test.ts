/**
 * Liveness probes across an in-place group restart, end to end: a StatefulSet of two whose engine container has a
 * liveness probe (HTTP /health, 1 s period, 2 failures: a 2 s window) is injected by the real `lockstep inject`, which
 * points the probe at `lockstep run`, and applied with the real kubectl to the test cluster, whose kubelet runs the
 * probes. The engine is a Python stand-in with the habits of a real one: it serves /health on its pod IP, takes 3 s to
 * "load" before serving, and on SIGTERM stops serving at once but takes 4 s to exit. A member's engine killed makes the
 * group restart in place; the surviving member's /health is down for far longer than the window (its log proves it),
 * and yet no container is killed. Then an engine that stays up but fails its /health (SIGUSR1: 500 from then on) gets
 * its container killed by the kubelet, as the user's probe meant.
 */
import { execFile, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments, stringify } from 'yaml';
import { EVENTS, PODS, resourcePath } from '../../src/kube/resources.js';
import type { Pod } from '../../src/kube/types.js';
import { startTestCluster, type TestCluster } from '../cluster/index.js';
import { markedProcesses } from '../cluster/pods/runner.js';
import { bundlePath } from '../support/build.js';
import { baseManifest } from './manifests.js';
import { until } from './story.js';

const run = promisify(execFile);
const NS = 'probes';
const NAME = 'slow-restart';

/** The engine stand-in (see the file comment); each line carries the epoch and the time in ms. */
const ENGINE_PY = `import http.server, os, signal, sys, threading, time
stop, sick = threading.Event(), threading.Event()
signal.signal(signal.SIGTERM, lambda *_: stop.set())
signal.signal(signal.SIGUSR1, lambda *_: sick.set())
def log(what):
    print(f"{what} epoch={os.environ.get('LOCKSTEP_EPOCH')} at={int(time.time() * 1000)}", flush=True)
class Health(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(500 if sick.is_set() else 200)
        self.end_headers()
    def log_message(self, *args):
        pass
log("loading")
time.sleep(3)
server = http.server.ThreadingHTTPServer((os.environ["POD_IP"], 8000), Health)
server.daemon_threads = True
threading.Thread(target=server.serve_forever, daemon=True).start()
log("serving")
while not stop.wait(0.2):
    pass
server.shutdown()
server.server_close()
log("down")
time.sleep(4)
log("exiting")
`;

/** The user's manifest: a headless Service and a StatefulSet whose engine has a tight liveness probe. */
function plain(): string {
  const service = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: NAME },
    spec: {
      clusterIP: 'None',
      publishNotReadyAddresses: true,
      selector: { app: NAME },
      ports: [{ name: 'http', port: 8000 }],
    },
  };
  const statefulSet = {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: { name: NAME },
    spec: {
      replicas: 2,
      serviceName: NAME,
      selector: { matchLabels: { app: NAME } },
      template: {
        metadata: { labels: { app: NAME } },
        spec: {
          serviceAccountName: NAME,
          terminationGracePeriodSeconds: 5,
          containers: [
            {
              name: 'engine',
              image: 'python:3.11',
              // started cold (a shell): the test finds the engine's process by its argv
              command: ['sh', '-c', 'exec python3 /opt/engine/engine.py'],
              ports: [{ name: 'http', containerPort: 8000 }],
              livenessProbe: {
                httpGet: { path: '/health', port: 'http' },
                initialDelaySeconds: 5,
                periodSeconds: 1,
                timeoutSeconds: 1,
                failureThreshold: 2,
              },
              volumeMounts: [{ name: 'engine', mountPath: '/opt/engine' }],
            },
          ],
          volumes: [{ name: 'engine', configMap: { name: `${NAME}-engine` } }],
        },
      },
    },
  };
  return [service, statefulSet].map((d) => stringify(d)).join('---\n');
}

function workload(): string {
  const injected = spawnSync(
    process.execPath,
    [bundlePath('lockstep'), 'inject', '-f', '-', '--engine', 'none', '--explain'],
    { input: plain(), encoding: 'utf8' },
  );
  if (injected.status !== 0) throw new Error(`lockstep inject failed: ${injected.stderr}`);
  expect(injected.stderr).toContain('livenessProbe asks lockstep run (port 7471 /livez)');
  const rbac = [
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: NAME, namespace: NS } },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name: `${NAME}-lockstep-coordinator`, namespace: NS },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'lockstep-coordinator' },
      subjects: [{ kind: 'ServiceAccount', name: NAME, namespace: NS }],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: `${NS}-lockstep-tokenreview` },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'lockstep-tokenreview' },
      subjects: [{ kind: 'ServiceAccount', name: NAME, namespace: NS }],
    },
    {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: `${NAME}-engine`, namespace: NS },
      data: { 'engine.py': ENGINE_PY },
    },
  ];
  const docs = parseAllDocuments(injected.stdout)
    .map((d) => d.toJS() as Record<string, unknown> | null)
    .filter((d) => d !== null)
    .map((d) => ({ ...d, metadata: { ...(d.metadata as object), namespace: NS } }));
  return [...rbac, ...docs].map((d) => stringify(d)).join('---\n');
}

type Status = { name: string; restartCount: number };

describe('liveness probes across an in-place group restart (StatefulSet, test cluster kubelet)', () => {
  let cluster: TestCluster;
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'probes-e2e-'));
    cluster = await startTestCluster({
      apiServer: { namespaces: [NS] },
      workloads: {
        dir: join(dir, 'cluster'),
        nodes: [{ name: 'node-a', kind: 'cpu-vm' }],
        podEnv: { LOCKSTEP_LOG_LEVEL: 'info' },
      },
    });
    cluster.apiServer.store.apply(baseManifest());
  }, 60_000);

  afterAll(async () => {
    await cluster?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  }, 60_000);

  const pods = async () =>
    (await cluster.workloads!.client.get<{ items: Pod[] }>(resourcePath(PODS, { namespace: NS }))).items
      .filter((p) => p.metadata.deletionTimestamp === undefined)
      .sort((a, b) => (a.metadata.name ?? '').localeCompare(b.metadata.name ?? ''));
  const engineStatus = (p: Pod) =>
    ((p.status as { containerStatuses?: Status[] } | undefined)?.containerStatuses ?? []).find(
      (s) => s.name === 'engine',
    );
  const engineLog = async (p: Pod) => {
    const logs = cluster.workloads!.node('node-a').runner.logsDir(p.metadata.uid ?? '');
    return logs ? readFile(join(logs, 'engine.log'), 'utf8').catch(() => '') : '';
  };
  /** On a timeout: each pod's container states and the tails of its logs. */
  const explain = async (err: unknown): Promise<never> => {
    const lines: string[] = [err instanceof Error ? err.message : String(err)];
    for (const p of await pods()) {
      lines.push(
        `--- ${p.metadata.name} ${JSON.stringify(p.status?.phase)} ${JSON.stringify((p.status as { containerStatuses?: unknown })?.containerStatuses ?? (p.status as { initContainerStatuses?: unknown })?.initContainerStatuses)}`,
      );
      const logs = cluster.workloads!.node('node-a').runner.logsDir(p.metadata.uid ?? '');
      for (const c of ['lockstep-bootstrap', 'lockstep-coordinator', 'engine'])
        if (logs) lines.push(`[${c}] ${(await readFile(join(logs, `${c}.log`), 'utf8').catch(() => '')).slice(-1500)}`);
    }
    lines.push(...(await events()));
    throw new Error(lines.join('\n'));
  };
  const serving = (epoch: number) => async () => {
    const members = await pods();
    if (members.length !== 2) return undefined;
    const logs = await Promise.all(members.map(engineLog));
    return logs.every((l) => new RegExp(`^serving epoch=${epoch} `, 'm').test(l)) ? members : undefined;
  };
  const enginePids = (p: Pod) =>
    markedProcesses(`${p.metadata.uid}/engine`).filter((pid) => {
      try {
        // the Python process itself, not the lockstep run that names it in its argv
        const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
        return /python/.test(argv[0] ?? '') && argv.some((a) => a.endsWith('engine.py'));
      } catch {
        return false;
      }
    });
  const at = (log: string, what: string, epoch: number) =>
    Number(new RegExp(`^${what} epoch=${epoch} at=(\\d+)$`, 'm').exec(log)?.[1] ?? Number.NaN);
  const events = async () =>
    (
      await cluster.workloads!.client.get<{
        items: { reason: string; message: string; involvedObject: { name: string } }[];
      }>(resourcePath(EVENTS, { namespace: NS }))
    ).items.map((e) => `${e.involvedObject.name} ${e.reason}: ${e.message}`);

  it('a restart far longer than the liveness window keeps every container; a failing engine is still killed', async () => {
    const file = join(dir, 'workload.yaml');
    writeFileSync(file, workload());
    await run('kubectl', ['apply', '-f', file], { env: { ...process.env, KUBECONFIG: cluster.kubeconfigPath } });
    const formed = await until('both engines serving in epoch 1', serving(1), 120_000, 500).catch(explain);
    const uids = formed.map((p) => p.metadata.uid);

    // the second member's engine dies: the group restarts in place
    const victim = enginePids(formed[1]!);
    expect(victim.length).toBeGreaterThan(0);
    for (const pid of victim) process.kill(pid, 'SIGKILL');
    const restarted = await until('both engines serving in epoch 2', serving(2), 120_000, 500).catch(explain);
    // in place: the same pods, and no container restarted by the kubelet
    expect(restarted.map((p) => p.metadata.uid)).toEqual(uids);
    expect(restarted.map((p) => engineStatus(p)?.restartCount)).toEqual([0, 0]);
    // the survivor's /health really was down for longer than the 2 s window (stop 4 s + barrier + load 3 s)
    const survivor = await engineLog(restarted[0]!);
    const downFor = at(survivor, 'serving', 2) - at(survivor, 'down', 1);
    expect(downFor).toBeGreaterThan(6000);
    expect((await events()).filter((e) => /Liveness probe failed|failed liveness probe/.test(e))).toEqual([]);

    // an engine that runs but fails its own check is killed by the kubelet through run's endpoint
    const sick = restarted[0]!;
    for (const pid of enginePids(sick)) process.kill(pid, 'SIGUSR1');
    await until(
      'the sick engine container killed by its liveness probe',
      async () => {
        const p = (await pods()).find((q) => q.metadata.uid === sick.metadata.uid);
        return p && (engineStatus(p)?.restartCount ?? 0) >= 1 ? p : undefined;
      },
      60_000,
      500,
    );
    const seen = await events();
    expect(seen).toContainEqual(
      `${sick.metadata.name} Unhealthy: Liveness probe failed: HTTP probe failed with statuscode: 503`,
    );
    expect(seen).toContainEqual(
      `${sick.metadata.name} Killing: Container engine failed liveness probe, will be restarted`,
    );
    await run('kubectl', ['delete', '-f', file, '--wait=false'], {
      env: { ...process.env, KUBECONFIG: cluster.kubeconfigPath },
    });
  }, 300_000);
});
