import { Command } from 'commander';
import { notImplemented } from '../cli/errors.js';
import { VERSION } from '../version.js';
import { addKubectlFlags } from './global-flags.js';

interface Verb {
  name: string;
  args?: string;
  description: string;
}

const VERBS: readonly Verb[] = [
  { name: 'nodes', description: 'accelerators and NICs per node, with health counts and taints' },
  { name: 'devices', args: '[node]', description: 'devices with type, model, health, topology and holder' },
  { name: 'topo', args: '<node>', description: 'GPU/NIC distance matrix of a node, like nvidia-smi topo -m' },
  { name: 'groups', description: 'multi-host groups: size, ready members, epoch, state' },
  { name: 'group', args: '<name>', description: 'one group and its members' },
  { name: 'pods', description: 'pods with allocated devices and their health' },
  { name: 'check', description: 'exit 0 if all is healthy, 1 with a list of problems, >1 if it could not check' },
];

/** `kubectl lockstep …`: reads only the API. */
export function kubectlProgram(env: NodeJS.ProcessEnv = process.env): Command {
  const program = new Command('kubectl-lockstep')
    .usage('<verb> [flags]')
    .description('health and topology of lockstep nodes, devices and groups')
    .version(VERSION, '--version');
  for (const verb of VERBS) {
    const command = new Command(verb.name).description(verb.description);
    if (verb.args) command.argument(verb.args);
    addKubectlFlags(command, env).action(() => {
      throw notImplemented(`kubectl lockstep ${verb.name}`);
    });
    program.addCommand(command);
  }
  return program;
}
