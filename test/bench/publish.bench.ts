/**
 * 1,000 simulated agents publish into one test cluster (DESIGN.md: "all pools complete ≤ 10 s"; "steady state: 0 API
 * writes per hour per node"). The agents are real SlicePublishers, each with its own connections, list+watch and
 * writes, fed inventories scanned by real discovery from the recorded machines in test/cluster/nodes (8x H100 HGX,
 * 8x V100S VM, A100 with MIG, two NIC-only hosts), round-robin. They run in worker threads (publish-agents.ts) next
 * to the API server double in the main thread; the counts come from its request counters.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { Inventory } from '../../agent/discovery/inventory.js';
import { scanInventory } from '../../agent/discovery/scan.js';
import type { PublisherStats } from '../../agent/slices/publisher.js';
import type { ResourceSlice } from '../../src/kube/types.js';
import { startApiServer } from '../cluster/apiserver/index.js';
import { buildSimulatedNode, RECORDED_NODE_KINDS } from '../cluster/nodes/index.js';
import { HAS_RECORDED_FIXTURES } from '../support/recorded.js';
import type { AgentsWorkerData, FromWorker, ToWorker } from './publish-agents.js';
import { type Bench, type BenchRow, median, percentile } from './report.js';

/** The node kinds the fleet is made of; the ones built from recordings only where ../shared/fixtures exists. */
const KINDS = (['h100-hgx', 'v100s-vm', 'a100-mig', 'node-exporter', 'procfs'] as const).filter(
  (kind) => HAS_RECORDED_FIXTURES || !RECORDED_NODE_KINDS.has(kind),
);
const WORKERS = 2;

async function recordedInventories(): Promise<{ kind: string; inventory: Inventory }[]> {
  const out: { kind: string; inventory: Inventory }[] = [];
  for (const kind of KINDS) {
    const dir = await mkdtemp(join(tmpdir(), `bench-${kind}-`));
    try {
      const node = await buildSimulatedNode(kind, dir, { nodeName: 'template' });
      const inventory = await scanInventory({
        sysfsRoot: node.sysfsRoot,
        devRoot: node.devRoot,
        nvidiaSmi: node.nvidiaSmiPath,
        nvidiaSmiTimeoutMs: 10_000,
        nodeName: 'template',
      });
      out.push({ kind, inventory });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
  return out;
}

/** A worker thread that loads TypeScript the way this process does (tsx). */
function tsWorker(data: AgentsWorkerData): Worker {
  const target = new URL('./publish-agents.ts', import.meta.url).href;
  const tsx = import.meta.resolve('tsx/esm/api');
  const boot = `import { register } from ${JSON.stringify(tsx)}; register(); await import(${JSON.stringify(target)});`;
  return new Worker(new URL(`data:text/javascript,${encodeURIComponent(boot)}`), { workerData: data });
}

class AgentsWorker {
  private readonly waiting = new Map<string, (m: FromWorker) => void>();
  readonly worker: Worker;
  constructor(data: AgentsWorkerData) {
    this.worker = tsWorker(data);
    this.worker.on('message', (m: FromWorker) => {
      const w = this.waiting.get(m.type);
      this.waiting.delete(m.type);
      w?.(m);
    });
  }
  next<T extends FromWorker['type']>(type: T, timeoutMs = 120_000): Promise<Extract<FromWorker, { type: T }>> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`agents worker: no ${type} in ${timeoutMs} ms`)), timeoutMs);
      const onError = (err: Error) => reject(err);
      this.worker.once('error', onError);
      this.waiting.set(type, (m) => {
        clearTimeout(timer);
        this.worker.off('error', onError);
        resolve(m as Extract<FromWorker, { type: T }>);
      });
    });
  }
  send(m: ToWorker): void {
    this.worker.postMessage(m);
  }
}

const bench: Bench = async (ctx) => {
  const agents = ctx.quick ? 200 : 1000;
  const steadyMs = ctx.quick ? 3000 : 6000;
  const rescans = 3;
  const recorded = await recordedInventories();
  ctx.log(
    `inventories: ${recorded.map((r) => `${r.kind} (${r.inventory.devices.length} devices)`).join(', ')}; ${agents} agents in ${WORKERS} worker threads`,
  );
  const api = await startApiServer({
    featureGates: { DRADeviceTaints: true },
    tls: false,
    // bookmarks at about the real server's pace
    bookmarkIntervalMs: 60_000,
    historySize: 100_000,
  });
  const workers: AgentsWorker[] = [];
  try {
    for (let w = 0; w < WORKERS; w++) {
      const mine = Array.from({ length: agents }, (_, i) => i).filter((i) => i % WORKERS === w);
      workers.push(
        new AgentsWorker({
          kubeconfigPath: api.kubeconfigPath,
          inventories: recorded.map((r) => r.inventory),
          agents: mine,
        }),
      );
    }
    await Promise.all(workers.map((w) => w.next('ready')));

    api.counters.reset();
    // CPU of the whole process (API server and agent threads): on a shared machine wall time also measures the
    // neighbours, CPU time does not
    const cpu0 = process.cpuUsage();
    const load0 = loadavg()[0]!;
    const t0 = Date.now();
    const started = workers.map((w) => w.next('started'));
    for (const w of workers) w.send({ type: 'go' });
    const results = await Promise.all(started);
    const doneAt = results.flatMap((r) => r.doneAt.map((t) => t - t0));
    const allComplete = Math.max(...doneAt);
    const cpu = process.cpuUsage(cpu0);
    const cpuSeconds = (cpu.user + cpu.system) / 1e6;
    const stats = results.reduce<Partial<PublisherStats>>((sum, r) => {
      for (const [k, v] of Object.entries(r.stats))
        sum[k as keyof PublisherStats] = (sum[k as keyof PublisherStats] ?? 0) + v;
      return sum;
    }, {});

    // every pool is in the API, complete and at one generation
    const slices = api.store.list('resourceslices') as unknown as ResourceSlice[];
    const pools = new Map<string, ResourceSlice[]>();
    for (const s of slices) pools.set(s.spec.pool.name, [...(pools.get(s.spec.pool.name) ?? []), s]);
    const complete = [...pools.values()].filter(
      (ss) =>
        ss.length === ss[0]!.spec.pool.resourceSliceCount && new Set(ss.map((s) => s.spec.pool.generation)).size === 1,
    ).length;
    if (complete !== agents) throw new Error(`only ${complete} of ${agents} pools complete in the API`);
    const startRequests = api.counters.total();
    const startWrites = api.counters.writes();
    const perVerb = Object.fromEntries(
      ['get', 'list', 'watch', 'create', 'update', 'delete'].map((v) => [v, api.counters.total({ verb: v }) / agents]),
    );
    ctx.log(
      `all ${agents} pools complete in ${allComplete} ms (${slices.length} slices); publisher stats ${JSON.stringify(stats)}`,
    );

    // steady state: unchanged rescans, one dropped watch per agent (as when watches time out), bookmarks
    api.counters.reset();
    const s0 = Date.now();
    const steady = workers.map((w) => w.next('steady-done'));
    for (const w of workers) w.send({ type: 'steady', rescans, pauseMs: steadyMs / rescans });
    setTimeout(() => api.faults.dropWatches(), steadyMs / 2);
    await Promise.all(steady);
    const steadySeconds = (Date.now() - s0) / 1000;
    const steadyWrites = api.counters.writes();
    const steadyRequests = api.counters.total();
    const writesPerAgentHour = (steadyWrites / agents) * (3600 / steadySeconds);

    const rows: BenchRow[] = [
      {
        id: 'publish.pools-complete',
        what: `${agents} simulated agents (5 recorded machine kinds) start against one test cluster: time until every pool is complete`,
        budget: '≤ 10 s',
        measured: `${(allComplete / 1000).toFixed(2)} s (agent p50 ${(median(doneAt) / 1000).toFixed(2)} s, p99 ${(percentile(doneAt, 99) / 1000).toFixed(2)} s; ${cpuSeconds.toFixed(1)} s CPU for API server + agents; load average ${load0.toFixed(1)} on ${cpus().length} CPUs)`,
        withinBudget: allComplete <= 10_000,
        data: {
          agents,
          allCompleteMs: allComplete,
          p50Ms: median(doneAt),
          p99Ms: percentile(doneAt, 99),
          slices: slices.length,
          stats,
          cpuSeconds,
          loadAverage: load0,
        },
      },
      {
        id: 'publish.requests-at-start',
        what: 'API requests per agent at start (Node get, slice list, watch, create)',
        budget: '',
        measured: `${(startRequests / agents).toFixed(2)} requests/agent, ${(startWrites / agents).toFixed(2)} writes/agent`,
        data: { perVerb, startRequests, startWrites },
      },
      {
        id: 'publish.steady-writes',
        what: `steady state over ${steadySeconds.toFixed(1)} s: ${rescans} unchanged rescans and one dropped watch per agent; writes per agent per hour`,
        budget: '0',
        measured: `${writesPerAgentHour.toFixed(2)} writes/agent/h (${steadyWrites} writes, ${steadyRequests} requests in all)`,
        withinBudget: steadyWrites === 0,
        data: { steadyWrites, steadyRequests, steadySeconds },
      },
    ];
    return rows;
  } finally {
    await Promise.all(
      workers.map(async (w) => {
        const stopped = w.next('stopped', 30_000).catch(() => undefined);
        w.send({ type: 'stop' });
        await stopped;
        await w.worker.terminate();
      }),
    );
    await api.stop();
  }
};

export default bench;
