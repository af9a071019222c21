/**
 * PyTorch: plain torch.distributed reads MASTER_ADDR/MASTER_PORT/WORLD_SIZE/RANK (init_method env://); torchrun gets
 * its static-rendezvous flags. Underscore spellings work in every torchrun version (Debian's 1.13 knows only those).
 */
import { basename, hasFlag, pythonModule, spellings } from './argv.js';
import { addGroupFlags } from './flags.js';
import type { Engine, GroupView } from './types.js';

function torchEnvironment(view: GroupView): Record<string, string> {
  return {
    MASTER_ADDR: view.leaderAddress,
    MASTER_PORT: String(view.masterPort),
    WORLD_SIZE: String(view.size),
    RANK: String(view.rank),
    NNODES: String(view.size),
    NODE_RANK: String(view.rank),
  };
}

/** Plain torch.distributed: the environment is everything it needs. */
export const torch: Engine = {
  name: 'torch',
  detect: () => false,
  environment: torchEnvironment,
  adapt: (argv) => [...argv],
};

const LAUNCHER_MODULES = ['torch.distributed.run', 'torch.distributed.launch'];

/** Where torchrun's own options end and the script begins: right after `torchrun` or `-m torch.distributed.run`. */
function launcherEnd(argv: readonly string[]): number {
  if (basename(argv[0]) === 'torchrun') return 1;
  const i = argv.indexOf('-m');
  return i >= 0 ? i + 2 : 1;
}

export const torchrun: Engine = {
  name: 'torchrun',
  detect: (argv) => basename(argv[0]) === 'torchrun' || LAUNCHER_MODULES.includes(pythonModule(argv) ?? ''),
  environment: torchEnvironment,
  adapt(argv, view, env) {
    const end = launcherEnd(argv);
    const head = argv.slice(0, end);
    const rest = argv.slice(end);
    // torchrun's options stop at the script; look only there
    const scriptAt = rest.findIndex((a, i) => !a.startsWith('-') && !(i > 0 && takesValue(rest[i - 1]!)));
    const options = scriptAt >= 0 ? rest.slice(0, scriptAt) : rest;
    const script = scriptAt >= 0 ? rest.slice(scriptAt) : [];
    const elastic = hasFlag(options, [...spellings('--rdzv-endpoint'), ...spellings('--rdzv-backend')]);
    const wanted: Array<readonly [string, string | undefined]> = [
      ['--nnodes', String(view.size)],
      ['--node_rank', String(view.rank)],
    ];
    // with an explicit rendezvous the user chose elastic mode; its endpoint replaces master addr/port
    // MASTER_ADDR/MASTER_PORT the container sets itself win over the group's (environment.ts), here as in the env
    if (!elastic) {
      wanted.push(
        ['--master_addr', env.MASTER_ADDR ?? view.leaderAddress],
        ['--master_port', env.MASTER_PORT ?? String(view.masterPort)],
      );
    }
    const adapted = addGroupFlags('torchrun', options, wanted, {
      mustMatch: ['--nnodes', '--node_rank'],
      style: 'equals',
    });
    return [...head, ...adapted, ...script];
  },
};

function takesValue(flag: string): boolean {
  // torchrun's boolean switches; every other option takes a value (unless written --x=v)
  if (flag.includes('=')) return false;
  return (
    flag.startsWith('-') &&
    !['--standalone', '--no_python', '--no-python', '--run_path', '--run-path', '-m', '--module'].includes(flag)
  );
}
