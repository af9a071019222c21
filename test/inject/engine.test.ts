import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { detectEngine, splitWords } from '../../src/inject/engine.js';

describe('detectEngine', () => {
  it.each([
    [['vllm', 'serve', 'meta-llama/Llama-3.1-8B', '--tensor-parallel-size', '8'], 'vllm'],
    [['python3', '-m', 'vllm.entrypoints.openai.api_server', '--model', 'm'], 'vllm'],
    [['/usr/local/bin/vllm', 'serve', 'm'], 'vllm'],
    [['python3', '-m', 'sglang.launch_server', '--model-path', 'm', '--tp', '16'], 'sglang'],
    [['torchrun', '--nnodes=2', '--nproc-per-node=8', 'train.py'], 'torchrun'],
    [['python', '-m', 'torch.distributed.run', '--nproc_per_node=8', 'train.py'], 'torchrun'],
    [['python', '-m', 'torch.distributed.launch', 'train.py'], 'torchrun'],
    [['ray', 'start', '--head', '--port=6379', '--block'], 'ray'],
    [
      [
        'sh',
        '-c',
        'bash /vllm-workspace/examples/online_serving/multi-node-serving.sh leader --ray_cluster_size=2; vllm serve m',
      ],
      'ray',
    ],
    [['bash', '-c', 'ray start --address=$(LEADER):6379 --block'], 'ray'],
    [['sh', '-c', 'pip install jax[tpu] && python3 -c "import jax; jax.distributed.initialize()"'], 'jax'],
    [['python3', '-m', 'MaxText.train', 'MaxText/configs/base.yml'], 'jax'],
    [['python3', 'maxtext/train.py'], 'jax'],
  ])('%j → %s', (argv, engine) => {
    expect(detectEngine(argv)).toBe(engine);
  });

  it.each([
    [['/usr/local/bin/my-server', '--listen=:8080']],
    [['python3', 'train.py']],
    [['nginx', '-g', 'daemon off;']],
    [['sh', '-c', 'echo array; sleep infinity']],
    [['python3', '-m', 'myvllmthing']],
    [['python3', 'jaxonomy.py']],
  ])('%j → not recognised', (argv) => {
    expect(detectEngine(argv)).toBeUndefined();
  });
});

describe('splitWords', () => {
  it('splits like a shell for plain, quoted and escaped words', () => {
    expect(splitWords('vllm serve')).toEqual(['vllm', 'serve']);
    expect(splitWords("  python3 -c 'import jax; print(1)'  ")).toEqual(['python3', '-c', 'import jax; print(1)']);
    expect(splitWords('a "b c" d\\ e ""')).toEqual(['a', 'b c', 'd e', '']);
    expect(splitWords('"say \\"hi\\""')).toEqual(['say "hi"']);
    expect(() => splitWords("it's")).toThrow('unbalanced \' quote in "it\'s"');
  });

  it('gives back any list of words once they are single-quoted and joined', () => {
    const word = fc.string({ minLength: 0, maxLength: 12 }).filter((w) => !w.includes("'"));
    fc.assert(
      fc.property(fc.array(word, { minLength: 0, maxLength: 6 }), (words) => {
        expect(splitWords(words.map((w) => `'${w}'`).join(' '))).toEqual(words);
      }),
    );
  });
});
