import type { GroupView } from '../../../leader/engines/types.js';

/** A released group of `size` members on 127.0.0.10+, `gpus` each, seen from `rank`. */
export function view(size: number, rank: number, gpus = 8): GroupView {
  const members = Array.from({ length: size }, (_, r) => ({
    rank: r,
    pod: `vllm-0-${r}`,
    ip: `127.0.0.${10 + r}`,
    node: `node-${r}`,
    hostname: '',
    gpus,
    tpus: 0,
  }));
  return {
    group: 'vllm-0',
    namespace: 'ns',
    size,
    rank,
    epoch: 1,
    members,
    leaderAddress: '127.0.0.10',
    masterPort: 29500,
    selfAddress: `127.0.0.${10 + rank}`,
    gpus: gpus * size,
  };
}
