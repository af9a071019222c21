/** SGLang: `--dist-init-addr <rank 0>:<port> --nnodes N --node-rank R` on every member (FACTS.md §8). */
import { basename, pythonModule } from './argv.js';
import { addGroupFlags } from './flags.js';
import type { Engine, GroupView } from './types.js';

function sglangArgs(view: GroupView): string[] {
  return [
    '--dist-init-addr',
    `${view.leaderAddress}:${view.masterPort}`,
    '--nnodes',
    String(view.size),
    '--node-rank',
    String(view.rank),
  ];
}

export const sglang: Engine = {
  name: 'sglang',
  detect(argv) {
    const module = pythonModule(argv) ?? '';
    return basename(argv[0]) === 'sglang' || module.startsWith('sglang.');
  },
  environment: (view) => ({ LOCKSTEP_SGLANG_ARGS: sglangArgs(view).join(' ') }),
  adapt(argv, view) {
    const a = sglangArgs(view);
    return addGroupFlags(
      'sglang',
      argv,
      [
        [a[0]!, a[1]],
        [a[2]!, a[3]],
        [a[4]!, a[5]],
      ],
      { mustMatch: ['--nnodes', '--node-rank'] },
    );
  },
};
