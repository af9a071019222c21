import { Command } from 'commander';
import { stringify as toYaml } from 'yaml';
import { addFlags, flaggedCommand } from '../cli/define-flags.js';
import { CliError } from '../cli/errors.js';
import { EXIT, EXIT_CODE_HELP } from '../cli/exit-codes.js';
import type { CommandRun } from '../cli/run-program.js';
import { errorMessage } from '../errors.js';
import { nextTermination } from '../signals.js';
import { VERSION } from '../version.js';
import { apiReader, ClusterReadError, type ClusterReader, connect } from './cluster.js';
import type { VerbInfo } from './completion.js';
import type { VerbContext, View } from './context.js';
import { type KubectlFlags, kubectlFlags } from './global-flags.js';
import { DISTANCE_LEGEND } from './model/topology.js';
import { type FieldPath, type OutputChoice, renderOutput, sortItems } from './render/output.js';
import { useColour } from './render/table.js';
import { checkVerb, EXIT_COULD_NOT_CHECK } from './verbs/check.js';
import { devicesVerb } from './verbs/devices.js';
import { groupsVerb, groupVerb } from './verbs/groups.js';
import { nodesVerb } from './verbs/nodes.js';
import { podsVerb } from './verbs/pods.js';
import { topoVerb } from './verbs/topo.js';
import { type ChangeSource, debounce, informerChangeSource, type ReadCall, recordingReader } from './watch.js';

/** What the program touches outside itself; tests replace parts of it. */
export interface PluginDeps {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  stdoutIsTTY: boolean;
  now: () => Date;
  /** builds the reader and change source from the kubeconfig flags; tests give hand-made ones */
  connect?: (options: KubectlFlags) => Connected;
  /** resolves when a watch should stop (SIGINT/SIGTERM by default) */
  untilStopped?: () => Promise<void>;
}

export interface Connected {
  reader: ClusterReader;
  namespace: string;
  changes?: ChangeSource;
  close?: () => void;
}

type Run = (ctx: VerbContext, arg: string | undefined, defaultNamespace: string) => Promise<View>;

interface Verb {
  name: string;
  args?: string;
  description: string;
  help?: string;
  run: Run;
}

const TOPO_HELP = [
  '',
  'Distance classes, derived from the attributes the agents publish (no node is read):',
  ...DISTANCE_LEGEND.map(([k, v]) => `  ${k.padEnd(4)}  ${v}`),
].join('\n');

const CHECK_HELP = [
  '',
  'Exit codes: 0 everything in scope is healthy; 1 problems found (listed on stdout);',
  '2 usage error; 3 could not check (API unreachable, no permission, no kubeconfig).',
  'Problems: unhealthy devices or devices without published health, incomplete pools, pods whose devices the',
  'kubelet or the agent reports unhealthy, groups Recovering or Failed or Running with members not ready.',
].join('\n');

const VERBS: readonly Verb[] = [
  {
    name: 'nodes',
    description: 'accelerators and NICs per node, with health counts and taints',
    run: (ctx) => nodesVerb(ctx),
  },
  {
    name: 'devices',
    args: '[node]',
    description: 'devices with type, model, health, topology and holder',
    run: (ctx, node) => devicesVerb(ctx, node),
  },
  {
    name: 'topo',
    args: '<node>',
    description: 'GPU/NIC distance matrix of a node, like nvidia-smi topo -m',
    help: TOPO_HELP,
    run: (ctx, node) => topoVerb(ctx, node!),
  },
  {
    name: 'groups',
    description: 'multi-host groups: size, ready members, epoch, state',
    run: (ctx) => groupsVerb(ctx),
  },
  {
    name: 'group',
    args: '<name>',
    description: 'one group and its members',
    run: (ctx, name, ns) => groupVerb(ctx, name!, ns),
  },
  { name: 'pods', description: 'pods with allocated devices and their health', run: (ctx) => podsVerb(ctx) },
  {
    name: 'check',
    description: 'exit 0 if all is healthy, 1 with a list of problems, >1 if it could not check',
    help: CHECK_HELP,
    run: (ctx) => checkVerb(ctx),
  },
];

/** What shell completion offers for each verb and its argument. */
export const COMPLETION_VERBS: VerbInfo[] = VERBS.map((v) => ({
  name: v.name,
  description: v.description,
  ...(v.args?.includes('node') ? { arg: 'node' as const } : v.args?.includes('name') ? { arg: 'group' as const } : {}),
}));

function defaultConnect(options: KubectlFlags): Connected {
  const { client, namespace } = connect({
    ...(options.kubeconfig ? { kubeconfig: options.kubeconfig } : {}),
    ...(options.context ? { context: options.context } : {}),
    ...(options.server ? { server: options.server } : {}),
    ...(options.token ? { token: options.token } : {}),
    ...(options.as ? { as: options.as } : {}),
    ...(options.asGroup ? { asGroups: options.asGroup } : {}),
    ...(options.requestTimeout !== undefined ? { requestTimeoutMs: options.requestTimeout } : {}),
  });
  return { reader: apiReader(client), namespace, changes: informerChangeSource(client), close: () => client.close() };
}

async function untilSignal(): Promise<void> {
  await nextTermination();
}

function formatView(view: View, output: OutputChoice, headers = true): string {
  if (output.format === 'json') return `${JSON.stringify(view.data, null, 2)}\n`;
  if (output.format === 'yaml') return toYaml(JSON.parse(JSON.stringify(view.data)));
  if (output.format === 'table' || output.format === 'wide') return view.table();
  // jsonpath and custom-columns read the same objects -o json prints
  return renderOutput(output, JSON.parse(JSON.stringify(view.data)), view.names(), headers);
}

/**
 * The value of each flag for a verb: given after the verb, else given before it (`kubectl lockstep -A groups`), else
 * the verb's own default or environment twin. kubectl takes its global flags on either side of the command.
 */
function mergedOptions(command: Command): KubectlFlags {
  const local = command.opts<Record<string, unknown>>();
  const parent = command.parent;
  if (!parent) return local as KubectlFlags;
  const global = parent.opts<Record<string, unknown>>();
  const merged: Record<string, unknown> = { ...local };
  for (const key of Object.keys(global)) {
    const fromCli = (c: Command) => c.getOptionValueSource(key) === 'cli';
    if (!fromCli(command) && fromCli(parent)) merged[key] = global[key];
  }
  return merged as KubectlFlags;
}

const processDeps: PluginDeps = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  stdoutIsTTY: process.stdout.isTTY === true,
  now: () => new Date(),
};

/**
 * What a verb does with its parsed flags (`arg`: its node or group name, if it takes one); a test passes its own to
 * capture the flags without reading a cluster (test/support/parse-command.ts).
 */
export type VerbRun = CommandRun<{ verb: string; arg?: string; flags: KubectlFlags }>;

/** `kubectl lockstep …`: reads only the API. `run` replaces the verbs' work (tests). */
export function kubectlProgram(
  env: NodeJS.ProcessEnv = process.env,
  deps: Partial<PluginDeps> = {},
  run?: VerbRun,
): Command {
  const d: PluginDeps = { ...processDeps, ...deps };
  const runVerbWithFlags: VerbRun =
    run ?? (async ({ verb, arg, flags }) => runVerb(verbNamed(verb), arg, flags, d, env));
  const program = new Command('kubectl-lockstep')
    .usage('<verb> [flags]')
    .description('health and topology of lockstep nodes, devices and groups')
    .version(VERSION, '--version')
    .addHelpText('after', `\n${EXIT_CODE_HELP}`)
    // flags before the verb are the program's, after it the verb's; mergedOptions() joins them
    .enablePositionalOptions();
  addFlags(program, kubectlFlags, env);
  for (const verb of VERBS) {
    const command = flaggedCommand(verb.name, verb.description, kubectlFlags, env);
    if (verb.args) command.argument(verb.args);
    if (verb.help) command.addHelpText('after', verb.help);
    command.action(async (...args: unknown[]) => {
      const cmd = args[args.length - 1] as Command;
      const arg = verb.args ? (args[0] as string | undefined) : undefined;
      await runVerbWithFlags(
        { verb: verb.name, ...(arg !== undefined ? { arg } : {}), flags: mergedOptions(cmd) },
        env,
      );
    });
    program.addCommand(command);
  }
  return program;
}

function verbNamed(name: string): Verb {
  const verb = VERBS.find((v) => v.name === name);
  if (!verb) throw new Error(`no verb ${name}`);
  return verb;
}

async function runVerb(
  verb: Verb,
  arg: string | undefined,
  options: KubectlFlags,
  d: PluginDeps,
  env: NodeJS.ProcessEnv,
): Promise<void> {
  const fail = (err: unknown): never => {
    const message = errorMessage(err);
    if (verb.name === 'check') throw new CliError(EXIT_COULD_NOT_CHECK, `could not check: ${message}`);
    throw err instanceof CliError ? err : new CliError(EXIT.failed, message);
  };
  let connection: Connected;
  try {
    connection = (d.connect ?? defaultConnect)(options);
  } catch (err) {
    return fail(err);
  }
  try {
    await runConnected(verb, arg, options, d, connection, env);
  } catch (err) {
    if (err instanceof ClusterReadError) return fail(err);
    throw err;
  } finally {
    connection.close?.();
  }
}

interface Drawn {
  view: View;
  text: string;
}

async function runConnected(
  verb: Verb,
  arg: string | undefined,
  options: KubectlFlags,
  d: PluginDeps,
  connection: Connected,
  env: NodeJS.ProcessEnv,
): Promise<void> {
  const calls: ReadCall[] = [];
  /**
   * A drawing's warnings (a list it could do without, refused) are printed once it succeeds: when a list it needs
   * fails too, the one error line says what went wrong, whichever of the concurrent reads answered first.
   */
  const warnings: string[] = [];
  const { output, sortBy } = options;
  const ctx: VerbContext = {
    reader: recordingReader(connection.reader, calls),
    driver: options.driverName,
    namespace: options.allNamespaces ? undefined : (options.namespace ?? connection.namespace),
    ...(options.selector ? { selector: options.selector } : {}),
    output: output.format,
    headers: options.headers,
    colour: useColour(d.stdoutIsTTY, env) && (output.format === 'table' || output.format === 'wide'),
    now: d.now,
    warn: (message) => warnings.push(message),
  };
  const produce = async (reader: ClusterReader): Promise<Drawn> => {
    warnings.length = 0;
    const view = await verb.run({ ...ctx, reader }, arg, connection.namespace);
    for (const message of warnings.splice(0)) d.stderr(`warning: ${message}\n`);
    if (sortBy) sortInPlace(view.data, sortBy);
    return { view, text: formatView(view, output, ctx.headers) };
  };
  const table = output.format === 'table' || output.format === 'wide' || output.format === 'custom-columns';
  const show = (r: Drawn) => {
    if (r.view.empty && table) d.stderr(`${r.view.empty}\n`);
    else d.stdout(r.text);
  };
  const first = await produce(ctx.reader);
  show(first);
  if (!options.watch) {
    if (first.view.exitCode) throw new CliError(first.view.exitCode, first.view.failure ?? 'problems found');
    return;
  }
  if (!connection.changes) return;
  await watchLoop(first, calls, produce, show, connection.changes, d);
}

/**
 * -w: the lists the first drawing made are kept current by watches; every change redraws from those caches
 * (no further list requests), and only when the output differs. On a terminal the screen is redrawn in place.
 */
async function watchLoop(
  first: Drawn,
  calls: readonly ReadCall[],
  produce: (reader: ClusterReader) => Promise<Drawn>,
  show: (r: Drawn) => void,
  changes: ChangeSource,
  d: PluginDeps,
): Promise<void> {
  let last = first.text;
  let busy = Promise.resolve();
  let cache: ClusterReader | undefined;
  const redraw = () => {
    busy = busy.then(async () => {
      if (!cache) return;
      try {
        const next = await produce(cache);
        if (next.text === last) return;
        last = next.text;
        if (d.stdoutIsTTY) d.stdout('\u001b[H\u001b[2J');
        else d.stdout('\n');
        show(next);
      } catch (err) {
        // a failed redraw is reported and the watch goes on: the next change retries
        d.stderr(`error: ${errorMessage(err)}\n`);
      }
    });
  };
  const started = await changes.start(calls, debounce(redraw, 100));
  cache = started.reader;
  redraw();
  await (d.untilStopped ?? untilSignal)();
  await started.stop();
  await busy;
}

/** --sort-by: a view's table and its -o json read the same `items` array, so ordering it orders both. */
function sortInPlace(data: unknown, path: FieldPath): void {
  const items = (data as { items?: unknown }).items;
  if (!Array.isArray(items)) return;
  const sorted = sortItems(items, path);
  items.splice(0, items.length, ...sorted);
}
