import { describe, expect, it } from 'vitest';
import { groupEnvironment } from '../../leader/environment.js';
import type { Release } from '../../leader/protocol/messages.js';

const release: Release = {
  epoch: 1,
  group: 'vllm-0',
  namespace: 'ns',
  size: 2,
  rank: 1,
  masterPort: 29501,
  extraEnv: { NCCL_SOCKET_IFNAME: 'eth0', RANK: 'ignored', 'bad name': 'x' },
  members: [
    { rank: 1, pod: 'vllm-0-1', ip: '10.0.0.2', node: 'n2', hostname: 'vllm-0-1.vllm.ns', gpus: 8, tpus: 0 },
    { rank: 0, pod: 'vllm-0', ip: '10.0.0.1', node: 'n1', hostname: 'vllm-0.vllm.ns', gpus: 8, tpus: 0 },
  ],
};

describe('group environment', () => {
  it('has every name of the contract, by rank, for the receiving member', () => {
    expect(groupEnvironment(release)).toEqual({
      LOCKSTEP_GROUP: 'vllm-0',
      LOCKSTEP_GROUP_SIZE: '2',
      LOCKSTEP_RANK: '1',
      LOCKSTEP_LEADER_ADDRESS: '10.0.0.1',
      LOCKSTEP_EPOCH: '1',
      LOCKSTEP_MEMBERS: '10.0.0.1,10.0.0.2',
      LOCKSTEP_GROUP_GPUS: '16',
      MASTER_ADDR: '10.0.0.1',
      MASTER_PORT: '29501',
      WORLD_SIZE: '2',
      RANK: '1',
      NNODES: '2',
      NODE_RANK: '1',
      VLLM_HOST_IP: '10.0.0.2',
      LOCKSTEP_VLLM_ARGS: '--nnodes 2 --node-rank 1 --master-addr 10.0.0.1 --master-port 29501 --headless',
      LOCKSTEP_RAY_HEAD_COMMAND: 'ray start --head --port=6379',
      LOCKSTEP_RAY_WORKER_COMMAND: 'ray start --address=10.0.0.1:6379 --block',
      LOCKSTEP_RAY_COMMAND: 'ray start --address=10.0.0.1:6379 --block',
      LOCKSTEP_SGLANG_ARGS: '--dist-init-addr 10.0.0.1:29501 --nnodes 2 --node-rank 1',
      TPU_WORKER_ID: '1',
      TPU_WORKER_HOSTNAMES: 'vllm-0.vllm.ns,vllm-0-1.vllm.ns',
      // the coordinator's extras never replace the group's own names, and bad names are dropped
      NCCL_SOCKET_IFNAME: 'eth0',
    });
  });
});
