import { describe, expect, it } from 'vitest';
import { engineEnvironment, groupEnvironment } from '../../leader/environment.js';
import type { Release } from '../../leader/protocol/messages.js';
import { ENGINE_ENV_NAMES } from '../../src/contract/names.js';

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

describe("the engine's environment: the container's own settings win over the group's", () => {
  const group = { LOCKSTEP_RANK: '1', MASTER_ADDR: '10.0.0.1', MASTER_PORT: '29501', TPU_WORKER_ID: '1' };
  const cases: {
    name: string;
    container: NodeJS.ProcessEnv;
    env: Record<string, string>;
    overrides: [string, 'container' | 'group'][];
  }[] = [
    { name: 'nothing set: the group', container: {}, env: group, overrides: [] },
    {
      name: 'user MASTER_ADDR/MASTER_PORT win, reported',
      container: { MASTER_ADDR: 'job-0.job', MASTER_PORT: '3389' },
      env: { ...group, MASTER_ADDR: 'job-0.job', MASTER_PORT: '3389' },
      overrides: [
        ['MASTER_ADDR', 'container'],
        ['MASTER_PORT', 'container'],
      ],
    },
    { name: 'the same value is no conflict', container: { MASTER_PORT: '29501' }, env: group, overrides: [] },
    {
      name: 'a service link loses, reported',
      container: { MASTER_PORT: 'tcp://10.96.0.4:29500' },
      env: group,
      overrides: [['MASTER_PORT', 'group']],
    },
    {
      name: "LWS's TPU_WORKER_ID on a TPU container wins",
      container: { TPU_WORKER_ID: '0' },
      env: { ...group, TPU_WORKER_ID: '0' },
      overrides: [['TPU_WORKER_ID', 'container']],
    },
    { name: "lockstep's own names are the group's", container: { LOCKSTEP_RANK: '7' }, env: group, overrides: [] },
    {
      name: 'variables the group does not set pass through',
      container: { HF_TOKEN: 'x', PATH: '/bin' },
      env: { ...group, HF_TOKEN: 'x', PATH: '/bin' },
      overrides: [],
    },
  ];
  it.each(cases)('$name', ({ container, env, overrides }) => {
    const merged = engineEnvironment(container, group);
    expect(merged.env).toEqual(env);
    expect(merged.overrides.map((o) => [o.name, o.kept])).toEqual(overrides);
    for (const o of merged.overrides) expect(o.group).toBe(group[o.name as keyof typeof group]);
  });
});

describe('TPU variables follow LWS: only members with TPUs are TPU workers', () => {
  const member = (rank: number, tpus: number) => ({
    rank,
    pod: rank === 0 ? 'tpu-0' : `tpu-0-${rank}`,
    ip: `10.0.0.${rank + 1}`,
    node: `n${rank}`,
    hostname: rank === 0 ? 'tpu-0.tpu' : `tpu-0-${rank}.tpu`,
    gpus: 0,
    tpus,
  });
  const tpuEnv = (rank: number, tpus: number[]) => {
    const env = groupEnvironment({ ...release, rank, size: tpus.length, members: tpus.map((t, r) => member(r, t)) });
    return [env.TPU_WORKER_ID, env.TPU_WORKER_HOSTNAMES];
  };
  it.each([
    // a CPU-only leader: no TPU variables; the workers are TPU workers 0 and 1 without it (LWS: worker index - 1)
    { tpus: [0, 4, 4], rank: 0, want: [undefined, undefined] },
    { tpus: [0, 4, 4], rank: 1, want: ['0', 'tpu-0-1.tpu,tpu-0-2.tpu'] },
    { tpus: [0, 4, 4], rank: 2, want: ['1', 'tpu-0-1.tpu,tpu-0-2.tpu'] },
    // a leader with TPUs is TPU worker 0
    { tpus: [4, 4, 4], rank: 0, want: ['0', 'tpu-0.tpu,tpu-0-1.tpu,tpu-0-2.tpu'] },
    { tpus: [4, 4, 4], rank: 2, want: ['2', 'tpu-0.tpu,tpu-0-1.tpu,tpu-0-2.tpu'] },
    // nobody reports TPUs: every member, by rank
    { tpus: [0, 0], rank: 1, want: ['1', 'tpu-0.tpu,tpu-0-1.tpu'] },
  ])('TPUs $tpus, rank $rank', ({ tpus, rank, want }) => {
    expect(tpuEnv(rank, tpus)).toEqual(want);
  });
});

describe('ENGINE_ENV_NAMES (what inject reports a container setting itself)', () => {
  it("is every group variable that is not lockstep's own", () => {
    const names = Object.keys(groupEnvironment({ ...release, extraEnv: {} })).filter((n) => !n.startsWith('LOCKSTEP_'));
    expect([...ENGINE_ENV_NAMES].sort()).toEqual(names.sort());
  });
});
