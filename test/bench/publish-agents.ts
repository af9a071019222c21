/**
 * Worker side of publish.bench.ts: runs a share of the simulated agents (real SlicePublishers with their own
 * connections) in a worker thread, so the agents and the API server double use both cores as separate processes would.
 * Messages: in `go` | `steady` | `stop`; out `ready` | `started` | `steady-done` | `stopped`.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { Inventory } from '../../agent/discovery/inventory.js';
import { type PublisherStats, SlicePublisher } from '../../agent/slices/publisher.js';
import { KubeClient } from '../../src/kube/client.js';
import { loadKubeConfig } from '../../src/kube/config.js';

export interface AgentsWorkerData {
  kubeconfigPath: string;
  inventories: Inventory[];
  /** agent numbers this worker runs (node names follow from them) */
  agents: number[];
}

export type ToWorker = { type: 'go' } | { type: 'steady'; rescans: number; pauseMs: number } | { type: 'stop' };
export type FromWorker =
  | { type: 'ready' }
  | { type: 'started'; doneAt: number[]; stats: PublisherStats }
  | { type: 'steady-done' }
  | { type: 'stopped' };

export const nodeNameOf = (agent: number): string => `node-${String(agent).padStart(4, '0')}`;

const data = workerData as AgentsWorkerData;
const port = parentPort!;
const send = (m: FromWorker) => port.postMessage(m);
const kc = loadKubeConfig({ kubeconfig: data.kubeconfigPath });
const inventoryOf = (agent: number): Inventory => ({
  ...structuredClone(data.inventories[agent % data.inventories.length]!),
  node: nodeNameOf(agent),
});

const clients = data.agents.map(() => new KubeClient(kc));
const publishers = data.agents.map((agent, i) => {
  const p = new SlicePublisher({
    client: clients[i]!,
    driver: 'lockstep.dev',
    nodeName: nodeNameOf(agent),
    backoff: { initialMs: 100, maxMs: 5000 },
    watchTimeoutSeconds: 600,
  });
  p.setInventory(inventoryOf(agent));
  return p;
});

port.on('message', async (m: ToWorker) => {
  if (m.type === 'go') {
    const doneAt: number[] = [];
    await Promise.all(
      publishers.map(async (p) => {
        await p.start();
        await p.whenConverged();
        doneAt.push(Date.now());
      }),
    );
    const stats = publishers.reduce<PublisherStats>(
      (sum, p) => {
        for (const k of Object.keys(sum) as (keyof PublisherStats)[]) sum[k] += p.stats[k];
        return sum;
      },
      { reconciles: 0, creates: 0, updates: 0, deletes: 0, conflicts: 0, errors: 0, noops: 0, standby: 0 },
    );
    send({ type: 'started', doneAt, stats });
  } else if (m.type === 'steady') {
    for (let r = 0; r < m.rescans; r++) {
      // a rescan that finds the same hardware, as the agent's timer does
      for (const [i, p] of publishers.entries()) p.setInventory(inventoryOf(data.agents[i]!));
      await Promise.all(publishers.map((p) => p.whenConverged()));
      await new Promise((r2) => setTimeout(r2, m.pauseMs));
    }
    await Promise.all(publishers.map((p) => p.whenConverged()));
    send({ type: 'steady-done' });
  } else if (m.type === 'stop') {
    await Promise.all(publishers.map((p) => p.stop()));
    for (const c of clients) c.close();
    send({ type: 'stopped' });
  }
});

send({ type: 'ready' });
