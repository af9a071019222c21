/**
 * JAX on TPU: the worker id and every TPU worker's host name (the names TPU VMs and LWS set, FACTS.md §7–8). As the LWS
 * controller does, only members with TPUs are TPU workers: a CPU-only leader gets no TPU variables and the workers are
 * numbered from 0 without it. A group where no member reports TPUs numbers every member (nothing tells them apart).
 */
import type { Engine } from './types.js';

export const jax: Engine = {
  name: 'jax',
  detect: () => false,
  environment: (view): Record<string, string> => {
    const holders = view.members.filter((m) => m.tpus > 0);
    const workers = holders.length > 0 ? holders : view.members;
    const id = workers.findIndex((m) => m.rank === view.rank);
    if (id < 0) return {};
    return {
      TPU_WORKER_ID: String(id),
      TPU_WORKER_HOSTNAMES: workers.map((m) => m.hostname || m.ip).join(','),
    };
  },
  adapt: (argv) => [...argv],
};
