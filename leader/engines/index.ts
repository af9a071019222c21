/** The engines lockstep knows, and how `--engine auto` picks one from the command line. */
import { jax } from './jax.js';
import { ray } from './ray.js';
import { sglang } from './sglang.js';
import { torch, torchrun } from './torch.js';
import type { Engine, GroupView } from './types.js';
import { vllm } from './vllm.js';

export type { Engine, GroupView } from './types.js';
export { EngineError } from './types.js';

const none: Engine = { name: 'none', detect: () => false, environment: () => ({}), adapt: (argv) => [...argv] };

export const ENGINES: Readonly<Record<string, Engine>> = { vllm, sglang, torchrun, torch, ray, jax, none };

/** Detection order matters: `python -m vllm…` is vLLM even though it is also a python command. */
const DETECTION_ORDER: readonly Engine[] = [vllm, sglang, torchrun, ray];

export function selectEngine(name: string, argv: readonly string[]): Engine {
  if (name !== 'auto') {
    const engine = ENGINES[name];
    if (!engine) throw new Error(`unknown engine "${name}" (known: auto, ${Object.keys(ENGINES).join(', ')})`);
    return engine;
  }
  return DETECTION_ORDER.find((e) => e.detect(argv)) ?? none;
}

/** Every engine's variables: the group environment does not depend on which engine the pod will run. */
export function enginesEnvironment(view: GroupView): Record<string, string> {
  const env: Record<string, string> = {};
  for (const engine of [torch, vllm, ray, sglang, jax]) Object.assign(env, engine.environment(view));
  return env;
}
