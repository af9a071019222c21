import { describe, expect, it } from 'vitest';
import { selectEngine } from '../../../leader/engines/index.js';
import { EngineError } from '../../../leader/engines/types.js';
import { vllm } from '../../../leader/engines/vllm.js';
import { view } from '../support/view.js';

describe('vLLM', () => {
  it('adds the multiprocessing flags per rank, --headless off rank 0', () => {
    const argv = ['vllm', 'serve', 'meta-llama/Llama-3.1-405B', '-tp', '8', '-pp', '2'];
    expect(vllm.adapt(argv, view(2, 0), {})).toEqual([
      ...argv,
      ...['--nnodes', '2', '--node-rank', '0', '--master-addr', '127.0.0.10', '--master-port', '29500'],
    ]);
    expect(vllm.adapt(argv, view(2, 1), {})).toEqual([
      ...argv,
      ...['--nnodes', '2', '--node-rank', '1', '--master-addr', '127.0.0.10', '--master-port', '29500', '--headless'],
    ]);
  });

  it('is picked by --engine auto for `vllm` and `python -m vllm.…`', () => {
    expect(selectEngine('auto', ['vllm', 'serve', 'm']).name).toBe('vllm');
    expect(selectEngine('auto', ['python3', '-m', 'vllm.entrypoints.openai.api_server']).name).toBe('vllm');
    expect(selectEngine('auto', ['python3', 'train.py']).name).toBe('none');
  });

  it('checks tensor-parallel × pipeline-parallel against the group GPUs when both are given', () => {
    expect(() => vllm.adapt(['vllm', 'serve', 'm', '--tensor-parallel-size=8', '-pp', '4'], view(2, 0), {})).toThrow(
      'vllm: tensor-parallel 8 × pipeline-parallel 4 = 32 GPUs, but group vllm-0 has 16 GPUs (8 + 8 over 2 members); make the product match the group',
    );
    // only one given: vLLM's own business
    expect(() => vllm.adapt(['vllm', 'serve', 'm', '-tp', '4'], view(2, 0), {})).not.toThrow();
    // unknown GPU count: nothing to check against
    expect(() => vllm.adapt(['vllm', 'serve', 'm', '-tp', '3', '-pp', '3'], view(2, 0, 0), {})).not.toThrow();
    expect(() => vllm.adapt(['vllm', 'serve', 'm', '-tp', 'x', '-pp', '2'], view(2, 0), {})).toThrow(
      'vllm: --tensor-parallel-size must be a positive integer, got "x"',
    );
  });

  it('refuses a VLLM_PORT that is a service link URL, and explains why', () => {
    const run = () => vllm.adapt(['vllm', 'serve', 'm'], view(2, 0), { VLLM_PORT: 'tcp://10.96.0.12:8000' });
    expect(run).toThrow(EngineError);
    expect(run).toThrow(/VLLM_PORT is "tcp:\/\/10.96.0.12:8000".*Service named "vllm".*enableServiceLinks: false/);
    expect(() => vllm.adapt(['vllm', 'serve', 'm'], view(2, 0), { VLLM_PORT: '8000' })).not.toThrow();
  });

  it('keeps flags the user gave when they agree, refuses them when they contradict the group', () => {
    expect(vllm.adapt(['vllm', 'serve', 'm', '--nnodes', '2', '--master-port=1234'], view(2, 1), {})).toEqual([
      ...['vllm', 'serve', 'm', '--nnodes', '2', '--master-port=1234'],
      ...['--node-rank', '1', '--master-addr', '127.0.0.10', '--headless'],
    ]);
    expect(() => vllm.adapt(['vllm', 'serve', 'm', '--nnodes', '3'], view(2, 0), {})).toThrow(
      'vllm: the command says --nnodes 3, but the group gives 2; remove --nnodes and let lockstep set it',
    );
  });

  it('runs the Ray head then the command on rank 0 and a blocking Ray worker elsewhere', () => {
    const argv = ['vllm', 'serve', 'm', '--distributed-executor-backend', 'ray', '-tp', '8', '-pp', '2'];
    const head = vllm.adapt(argv, view(2, 0), {});
    expect(head.slice(0, 2)).toEqual(['/bin/sh', '-c']);
    expect(head[2]).toMatch(/^ray start --head --port=6379 && python3 -c '.*' && exec "\$@"$/s);
    expect(head.slice(3)).toEqual(['lockstep-ray-head', ...argv]);
    expect(vllm.adapt(argv, view(2, 1), {})).toEqual(['ray', 'start', '--address=127.0.0.10:6379', '--block']);
  });

  it('puts VLLM_HOST_IP and ready-made flags in the group environment', () => {
    expect(vllm.environment(view(2, 1))).toEqual({
      VLLM_HOST_IP: '127.0.0.11',
      LOCKSTEP_VLLM_ARGS: '--nnodes 2 --node-rank 1 --master-addr 127.0.0.10 --master-port 29500 --headless',
    });
  });
});
