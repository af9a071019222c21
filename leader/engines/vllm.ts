/**
 * vLLM. Multiprocessing executor across nodes (vLLM PR #23691): every rank gets --nnodes/--node-rank/--master-addr/
 * --master-port and ranks other than 0 run --headless. With --distributed-executor-backend ray, Ray's head/worker
 * commands come from the ray module. VLLM_HOST_IP pins the address vLLM advertises.
 */
import { basename, flagValue, pythonModule } from './argv.js';
import { addGroupFlags, positiveInt } from './flags.js';
import { rayLaunch } from './ray.js';
import { type Engine, EngineError, type GroupView } from './types.js';

function vllmArgs(view: GroupView): string[] {
  const args = [
    '--nnodes',
    String(view.size),
    '--node-rank',
    String(view.rank),
    '--master-addr',
    view.leaderAddress,
    '--master-port',
    String(view.masterPort),
  ];
  if (view.rank !== 0) args.push('--headless');
  return args;
}

/**
 * A Kubernetes Service named `vllm` makes the kubelet inject VLLM_PORT=tcp://<ip>:<port> into every pod of the
 * namespace (service links), and vLLM takes VLLM_PORT as its own port number and fails obscurely.
 */
function checkVllmPort(env: NodeJS.ProcessEnv): void {
  const value = env.VLLM_PORT;
  if (value === undefined || /^\d+$/.test(value.trim())) return;
  throw new EngineError(
    `VLLM_PORT is "${value}", which vLLM would read as its own port number; it looks like a Kubernetes service link ` +
      '(a Service named "vllm" in this namespace makes the kubelet set VLLM_PORT=tcp://…). Rename that Service, set ' +
      'enableServiceLinks: false in the pod spec, or set VLLM_PORT to a port number.',
  );
}

export const vllm: Engine = {
  name: 'vllm',
  detect(argv) {
    const module = pythonModule(argv) ?? '';
    return basename(argv[0]) === 'vllm' || module.startsWith('vllm.');
  },
  environment(view) {
    return { VLLM_HOST_IP: view.selfAddress, LOCKSTEP_VLLM_ARGS: vllmArgs(view).join(' ') };
  },
  adapt(argv, view, env) {
    checkVllmPort(env);
    const tp = positiveInt('vllm', '--tensor-parallel-size', flagValue(argv, ['-tp', '--tensor-parallel-size']));
    const pp = positiveInt('vllm', '--pipeline-parallel-size', flagValue(argv, ['-pp', '--pipeline-parallel-size']));
    if (tp !== undefined && pp !== undefined && view.gpus > 0 && tp * pp !== view.gpus) {
      throw new EngineError(
        `vllm: tensor-parallel ${tp} × pipeline-parallel ${pp} = ${tp * pp} GPUs, but group ${view.group} has ${view.gpus} GPUs ` +
          `(${view.members.map((m) => m.gpus).join(' + ')} over ${view.size} members); make the product match the group`,
      );
    }
    if (flagValue(argv, ['--distributed-executor-backend']) === 'ray') return rayLaunch(argv, view);
    const values = vllmArgs(view);
    const wanted: Array<readonly [string, string | undefined]> = [];
    for (let i = 0; i < 8; i += 2) wanted.push([values[i]!, values[i + 1]]);
    if (view.rank !== 0) wanted.push(['--headless', undefined]);
    return addGroupFlags('vllm', argv, wanted, { mustMatch: ['--nnodes', '--node-rank'] });
  },
};
