import type { Command } from 'commander';
import { flag } from '../cli/options.js';

/** kubectl's conventions (FACTS.md §10): the flags users expect on every verb. */
export function addKubectlFlags(command: Command, env: NodeJS.ProcessEnv): Command {
  return command
    .addOption(flag({ flags: '-n, --namespace <ns>', description: 'namespace scope' }, env))
    .addOption(flag({ flags: '-A, --all-namespaces', description: 'all namespaces', default: false }, env))
    .addOption(flag({ flags: '--context <name>', description: 'kubeconfig context' }, env))
    .addOption(flag({ flags: '--kubeconfig <path>', description: 'kubeconfig file', alsoEnv: ['KUBECONFIG'] }, env))
    .addOption(flag({ flags: '-l, --selector <selector>', description: 'label selector' }, env))
    .addOption(
      flag(
        {
          flags: '-o, --output <format>',
          description: 'output format',
          default: 'table',
          choices: ['table', 'wide', 'json', 'yaml'],
        },
        env,
      ),
    )
    .addOption(flag({ flags: '--no-headers', description: 'omit table headers' }, env))
    .addOption(flag({ flags: '-w, --watch', description: 'watch and redraw on change', default: false }, env));
}
