/**
 * 1,000 simulated agents publish into one test cluster (DESIGN.md: "all pools complete ≤ 10 s"; "steady state: 0 API
 * writes per hour per node"). The agents are real SlicePublishers, each with its own connections, list+watch and
 * writes, fed inventories scanned by real discovery from the recorded machines in test/cluster/nodes (8x H100 HGX,
 * 8x V100S VM, A100 with MIG, and two NIC-only hosts), round-robin. Counts come from the API server's request counters.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Inventory } from '../../agent/discovery/inventory.js';
import { scanInventory } from '../../agent/discovery/scan.js';
import { SlicePublisher } from '../../agent/slices/publisher.js';
import { KubeClient } from '../../src/kube/client.js';
import { loadKubeConfig } from '../../src/kube/config.js';
import type { ResourceSlice } from '../../src/kube/types.js';
import { startApiServer } from '../cluster/apiserver/index.js';
import { buildSimulatedNode } from '../cluster/nodes/index.js';
import { type Bench, type BenchRow, median, percentile } from './report.js';

const KINDS = ['h100-hgx', 'v100s-vm', 'a100-mig', 'node-exporter', 'procfs'] as const;

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

const bench: Bench = async (ctx) => {
  const agents = ctx.quick ? 200 : 1000;
  const steadyMs = ctx.quick ? 3000 : 6000;
  const rescans = 3;
  const recorded = await recordedInventories();
  ctx.log(
    `inventories: ${recorded.map((r) => `${r.kind} (${r.inventory.devices.length} devices)`).join(', ')}; ${agents} agents`,
  );

  // bookmarks at the real server's pace; watches long enough not to end inside the measurement
  const api = await startApiServer({
    featureGates: { DRADeviceTaints: true },
    tls: false,
    bookmarkIntervalMs: 60_000,
    historySize: 100_000,
  });
  const kc = loadKubeConfig({ kubeconfig: api.kubeconfigPath });
  const clients: KubeClient[] = [];
  const publishers: SlicePublisher[] = [];
  try {
    for (let i = 0; i < agents; i++) {
      const nodeName = `node-${String(i).padStart(4, '0')}`;
      const { inventory } = recorded[i % recorded.length]!;
      const client = new KubeClient(kc);
      clients.push(client);
      const p = new SlicePublisher({
        client,
        driver: 'lockstep.dev',
        nodeName,
        backoff: { initialMs: 100, maxMs: 5000 },
        watchTimeoutSeconds: 600,
      });
      p.setInventory({ ...structuredClone(inventory), node: nodeName });
      publishers.push(p);
    }
    api.counters.reset();
    const t0 = performance.now();
    const doneAt: number[] = [];
    await Promise.all(
      publishers.map(async (p) => {
        await p.start();
        await p.whenConverged();
        doneAt.push(performance.now() - t0);
      }),
    );
    const allComplete = performance.now() - t0;
    // check in the API itself that every pool is there, complete and at one generation
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
    const byVerb = Object.fromEntries(
      ['get', 'list', 'watch', 'create', 'update', 'delete'].map((v) => [v, api.counters.total({ verb: v }) / agents]),
    );
    ctx.log(`all ${agents} pools complete in ${allComplete.toFixed(0)} ms; ${slices.length} slices`);

    // steady state: rescans with unchanged results, a watch drop (as when watches time out), bookmarks
    api.counters.reset();
    const s0 = performance.now();
    for (let r = 0; r < rescans; r++) {
      for (const [i, p] of publishers.entries()) {
        p.setInventory({ ...structuredClone(recorded[i % recorded.length]!.inventory), node: `node-${i}` });
      }
      await Promise.all(publishers.map((p) => p.whenConverged()));
      if (r === 0) api.faults.dropWatches();
      await new Promise((res) => setTimeout(res, steadyMs / rescans));
    }
    await Promise.all(publishers.map((p) => p.whenConverged()));
    const steadySeconds = (performance.now() - s0) / 1000;
    const steadyWrites = api.counters.writes();
    const steadyRequests = api.counters.total();
    const writesPerAgentHour = (steadyWrites / agents) * (3600 / steadySeconds);

    const rows: BenchRow[] = [
      {
        id: 'publish.pools-complete',
        what: `${agents} simulated agents (5 recorded machine kinds) start against one test cluster: time until every pool is complete`,
        budget: '≤ 10 s',
        measured: `${(allComplete / 1000).toFixed(2)} s (agent p50 ${(median(doneAt) / 1000).toFixed(2)} s, p99 ${(percentile(doneAt, 99) / 1000).toFixed(2)} s)`,
        withinBudget: allComplete <= 10_000,
        data: {
          agents,
          allCompleteMs: allComplete,
          p50Ms: median(doneAt),
          p99Ms: percentile(doneAt, 99),
          slices: slices.length,
        },
      },
      {
        id: 'publish.requests-at-start',
        what: 'API requests per agent at start (Node get, slice list, watch, writes)',
        budget: '',
        measured: `${(startRequests / agents).toFixed(2)} requests/agent, ${(startWrites / agents).toFixed(2)} writes/agent`,
        data: { perVerb: byVerb, startRequests, startWrites },
      },
      {
        id: 'publish.steady-writes',
        what: `steady state over ${steadySeconds.toFixed(1)} s with ${rescans} unchanged rescans and one dropped watch per agent: writes per agent per hour`,
        budget: '0',
        measured: `${writesPerAgentHour.toFixed(2)} writes/agent/h (${steadyWrites} writes, ${steadyRequests} requests in all)`,
        withinBudget: steadyWrites === 0,
        data: { steadyWrites, steadyRequests, steadySeconds },
      },
    ];
    return rows;
  } finally {
    await Promise.all(publishers.map((p) => p.stop()));
    for (const c of clients) c.close();
    await api.stop();
  }
};

export default bench;
