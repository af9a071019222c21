/**
 * Ray, as the LWS vLLM example runs it (FACTS.md §8): rank 0 starts the head, waits until the cluster has one node per
 * member, then runs the command; every other rank joins the head and blocks. The user's arguments reach the head's
 * shell as "$@", never pasted into the script.
 */
import { basename } from './argv.js';
import type { Engine, GroupView } from './types.js';

const RAY_PORT = 6379;

function rayHeadCommand(): string[] {
  return ['ray', 'start', '--head', `--port=${RAY_PORT}`];
}

function rayWorkerCommand(view: GroupView): string[] {
  return ['ray', 'start', `--address=${view.leaderAddress}:${RAY_PORT}`, '--block'];
}

/** Polls the Ray cluster until every member's node is alive (LWS's example polls every 5 s for 300 s; 1 s here). */
const WAIT_FOR_NODES = [
  'import os, sys, time, ray',
  'n = int(os.environ["LOCKSTEP_GROUP_SIZE"])',
  'ray.init(address="auto", logging_level="ERROR")',
  'deadline = time.time() + float(os.environ.get("LOCKSTEP_RAY_WAIT_SECONDS", "300"))',
  'while True:',
  '    alive = sum(1 for node in ray.nodes() if node.get("Alive"))',
  '    if alive >= n: break',
  '    if time.time() > deadline: sys.exit(f"lockstep: the Ray cluster has {alive}/{n} nodes; giving up")',
  '    print(f"lockstep: waiting for Ray nodes: {alive}/{n}", file=sys.stderr)',
  '    time.sleep(1)',
  'ray.shutdown()',
].join('\n');

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

export function rayLaunch(argv: readonly string[], view: GroupView): string[] {
  if (view.rank !== 0) return rayWorkerCommand(view);
  const script = `${rayHeadCommand().join(' ')} && python3 -c ${shellQuote(WAIT_FOR_NODES)} && exec "$@"`;
  return ['/bin/sh', '-c', script, 'lockstep-ray-head', ...argv];
}

export const ray: Engine = {
  name: 'ray',
  detect: (argv) => basename(argv[0]) === 'ray',
  environment(view) {
    const mine = view.rank === 0 ? rayHeadCommand() : rayWorkerCommand(view);
    return {
      LOCKSTEP_RAY_HEAD_COMMAND: rayHeadCommand().join(' '),
      LOCKSTEP_RAY_WORKER_COMMAND: rayWorkerCommand(view).join(' '),
      LOCKSTEP_RAY_COMMAND: mine.join(' '),
    };
  },
  adapt(argv, view) {
    // `lockstep run --engine ray -- ray start …` means "just be a Ray node": run the role's command instead
    if (basename(argv[0]) === 'ray') return view.rank === 0 ? [...rayHeadCommand(), '--block'] : rayWorkerCommand(view);
    return rayLaunch(argv, view);
  },
};
