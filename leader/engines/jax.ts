/** JAX on TPU: the worker id and every worker's host name, by rank (the names TPU VMs and LWS set, FACTS.md §7–8). */
import type { Engine } from './types.js';

export const jax: Engine = {
  name: 'jax',
  detect: () => false,
  environment: (view) => ({
    TPU_WORKER_ID: String(view.rank),
    TPU_WORKER_HOSTNAMES: view.members.map((m) => m.hostname || m.ip).join(','),
  }),
  adapt: (argv) => [...argv],
};
