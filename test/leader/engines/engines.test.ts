import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { ENGINES, selectEngine } from '../../../leader/engines/index.js';
import { jax } from '../../../leader/engines/jax.js';
import { ray } from '../../../leader/engines/ray.js';
import { sglang } from '../../../leader/engines/sglang.js';
import { torch, torchrun } from '../../../leader/engines/torch.js';
import { view } from '../support/view.js';

describe('torchrun', () => {
  it('adds static rendezvous flags (underscore spellings, as torch 1.13 needs) before the script', () => {
    expect(
      torchrun.adapt(['torchrun', '--nproc_per_node', '8', 'train.py', '--lr', '1', '--nnodes', '9'], view(4, 2), {}),
    ).toEqual([
      'torchrun',
      '--nproc_per_node',
      '8',
      '--nnodes=4',
      '--node_rank=2',
      '--master_addr=127.0.0.10',
      '--master_port=29500',
      'train.py',
      '--lr',
      '1',
      '--nnodes',
      '9',
    ]);
  });

  it('works with python -m torch.distributed.run and leaves an elastic rendezvous alone', () => {
    const argv = ['python3', '-m', 'torch.distributed.run', '--rdzv_backend=c10d', '--rdzv_endpoint=h:1', 'x.py'];
    expect(selectEngine('auto', argv).name).toBe('torchrun');
    expect(torchrun.adapt(argv, view(2, 1), {})).toEqual([...argv.slice(0, 5), '--nnodes=2', '--node_rank=1', 'x.py']);
    expect(() => torchrun.adapt(['torchrun', '--node-rank=0', 'x.py'], view(2, 1), {})).toThrow(
      'torchrun: the command says --node_rank 0, but the group gives 1',
    );
  });

  it("takes the rendezvous from MASTER_ADDR/MASTER_PORT the container set itself, which win over the group's", () => {
    const argv = ['torchrun', '--nproc_per_node=1', 'x.py'];
    expect(torchrun.adapt(argv, view(2, 1), { MASTER_ADDR: 'job-0-0.job', MASTER_PORT: '3389' })).toEqual([
      ...argv.slice(0, 2),
      '--nnodes=2',
      '--node_rank=1',
      '--master_addr=job-0-0.job',
      '--master_port=3389',
      'x.py',
    ]);
  });

  it('gives plain torch.distributed its env:// variables', () => {
    expect(torch.environment(view(4, 3))).toEqual({
      MASTER_ADDR: '127.0.0.10',
      MASTER_PORT: '29500',
      WORLD_SIZE: '4',
      RANK: '3',
      NNODES: '4',
      NODE_RANK: '3',
    });
    expect(torch.adapt(['python3', 'x.py'], view(4, 3), {})).toEqual(['python3', 'x.py']);
  });
});

describe('SGLang', () => {
  it('adds --dist-init-addr/--nnodes/--node-rank', () => {
    const argv = ['python3', '-m', 'sglang.launch_server', '--model-path', 'm', '--tp', '16'];
    expect(selectEngine('auto', argv)).toBe(sglang);
    expect(sglang.adapt(argv, view(2, 1), {})).toEqual([
      ...argv,
      ...['--dist-init-addr', '127.0.0.10:29500', '--nnodes', '2', '--node-rank', '1'],
    ]);
  });
});

describe('Ray', () => {
  it('makes rank 0 the head and the others workers', () => {
    expect(ray.adapt(['ray', 'start'], view(3, 0), {})).toEqual(['ray', 'start', '--head', '--port=6379', '--block']);
    expect(ray.adapt(['ray', 'start'], view(3, 2), {})).toEqual([
      'ray',
      'start',
      '--address=127.0.0.10:6379',
      '--block',
    ]);
    expect(ray.environment(view(3, 2)).LOCKSTEP_RAY_COMMAND).toBe('ray start --address=127.0.0.10:6379 --block');
  });

  it('hands the user\'s arguments to the head\'s shell as "$@", never inside the script', () => {
    const tricky = ['python3', '-c', "print('$(rm -rf /)'); `x`"];
    const head = ray.adapt(tricky, view(2, 0), {});
    expect(head.slice(4)).toEqual(tricky);
    // the script itself parses as shell
    execFileSync('/bin/sh', ['-n', '-c', head[2]!]);
  });
});

describe('JAX / TPU', () => {
  it('numbers the workers and lists their host names by rank', () => {
    const v = view(3, 1);
    v.members[1]!.hostname = 'tpu-0-1.tpu.ns';
    expect(jax.environment(v)).toEqual({
      TPU_WORKER_ID: '1',
      TPU_WORKER_HOSTNAMES: '127.0.0.10,tpu-0-1.tpu.ns,127.0.0.12',
    });
  });
});

describe('engine selection', () => {
  it('knows the names the run command offers', () => {
    expect(Object.keys(ENGINES).sort()).toEqual(['jax', 'none', 'ray', 'sglang', 'torch', 'torchrun', 'vllm']);
    expect(() => selectEngine('mxnet', [])).toThrow('unknown engine "mxnet"');
  });
});
