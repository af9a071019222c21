/**
 * Each flag defined once, with its type: a command's flags are one record (`defineFlags`) whose entries say the flag
 * name, the env twin (derived, see options.ts `envName`), the Kubernetes alias variables, the default, the parser with
 * its range, and — as a type only — the value the command receives. `FlagValues<typeof flags>` is that command's
 * options type, so the definitions, `--help`, the env twins and the command bodies cannot drift apart: a flag with a
 * default is never `undefined` in the body (no re-defaults there), one without is optional.
 *
 * Threats: a record key that is not commander's attribute name for the flag (the body would read a property that
 * never gets set) is refused when the command is built, so every test that builds the program fails on it; the
 * values' threats (ranges, bare-number durations, alias variables) are the parsers' (options.ts, duration.ts).
 */
import { Command, Option } from 'commander';
import type { LogLevel } from '../log.js';
import {
  commanderOption,
  type DurationRange,
  durationParser,
  type FlagSpec,
  intParser,
  parseNonEmpty,
} from './options.js';

declare const VALUE: unique symbol;

/** One flag's definition. `T` exists only as a type: the value the command body receives. */
interface Flag<T> {
  /** the commander options it adds (one, or a `--x` and its `--no-x`) */
  readonly specs: readonly FlagSpec[];
  readonly [VALUE]?: T;
}

export type FlagDefinitions = Readonly<Record<string, Flag<unknown>>>;

type ValueOf<F> = F extends Flag<infer T> ? T : never;
type Simplify<T> = { [K in keyof T]: T[K] } & {};

/** The parsed options of a command whose flags are `D`: defaulted flags required, the others optional. */
export type FlagValues<D extends FlagDefinitions> = Simplify<
  { -readonly [K in keyof D as undefined extends ValueOf<D[K]> ? never : K]: ValueOf<D[K]> } & {
    -readonly [K in keyof D as undefined extends ValueOf<D[K]> ? K : never]?: Exclude<ValueOf<D[K]>, undefined>;
  }
>;

interface Described {
  /** commander flag syntax, e.g. `--node-name <name>` or `-o, --output <format>` */
  flags: string;
  description: string;
  /** Kubernetes-convention variables read when the LOCKSTEP_ twin is unset, in order */
  alsoEnv?: readonly string[];
  /** per-invocation flags (kubectl's `-o`) have no env twin */
  noEnv?: boolean;
}

type Parser<T> = (value: string, previous: T | undefined) => T;

const define = <T>(...specs: FlagSpec[]): Flag<T> => ({ specs });

/** A flag whose value goes through `parse`; a string default is parsed like a user value and shown as written. */
function parsedFlag<T>(spec: Described & { parse: Parser<T>; default: string | T }): Flag<T>;
function parsedFlag<T>(spec: Described & { parse: Parser<T> }): Flag<T | undefined>;
function parsedFlag<T>(spec: Described & { parse: Parser<T>; default?: unknown }): Flag<T | undefined> {
  return define({ ...spec, parse: spec.parse as FlagSpec['parse'] });
}

/** Free text; `nonEmpty` refuses `""` where an empty value is meaningless. */
function textFlag(spec: Described & { default: string; nonEmpty?: boolean }): Flag<string>;
function textFlag(spec: Described & { nonEmpty?: boolean }): Flag<string | undefined>;
function textFlag(spec: Described & { default?: string; nonEmpty?: boolean }): Flag<string | undefined> {
  const { nonEmpty, ...rest } = spec;
  return define(nonEmpty ? { ...rest, parse: parseNonEmpty } : rest);
}

/** A duration in the one grammar (`500ms`, `2s`, `1m30s`): milliseconds, within `range` (more than 0 unless given). */
function durationFlag(spec: Described & DurationRange & { default: string }): Flag<number>;
function durationFlag(spec: Described & DurationRange): Flag<number | undefined>;
function durationFlag(spec: Described & DurationRange & { default?: string }): Flag<number | undefined> {
  const { minMs, maxMs, ...rest } = spec;
  return define({ ...rest, parse: durationParser({ minMs, maxMs }) });
}

/** An integer in `[min, max]`; `what` names it in errors (`"x" is not a group size (1-65536)`). */
function intFlag(spec: Described & { min: number; max: number; what: string; default: number }): Flag<number>;
function intFlag(spec: Described & { min: number; max: number; what: string }): Flag<number | undefined>;
function intFlag(
  spec: Described & { min: number; max: number; what: string; default?: number },
): Flag<number | undefined> {
  const { min, max, what, ...rest } = spec;
  return define({ ...rest, parse: intParser(min, max, what) });
}

/** One of `choices`; anything else is a usage error. */
function choiceFlag<const C extends string>(spec: Described & { choices: readonly C[]; default: NoInfer<C> }): Flag<C>;
function choiceFlag<const C extends string>(spec: Described & { choices: readonly C[] }): Flag<C | undefined>;
function choiceFlag(spec: Described & { choices: readonly string[]; default?: string }): Flag<unknown> {
  return define(spec);
}

/**
 * A switch. `--x` is false unless given (or `undefined` without a default: "not said"); `--no-x` alone is true unless
 * given; `negation` adds `--no-x` beside `--x` (a tri-state: true, false or not said).
 */
function switchFlag(spec: Described & { flags: `--no-${string}` }): Flag<boolean>;
function switchFlag(spec: Described & { default: boolean }): Flag<boolean>;
function switchFlag(spec: Described & { negation?: string }): Flag<boolean | undefined>;
function switchFlag(spec: Described & { default?: boolean; negation?: string }): Flag<boolean | undefined> {
  const { negation, ...rest } = spec;
  const long = new Option(rest.flags).long ?? rest.flags;
  return negation === undefined
    ? define(rest)
    : define(rest, { flags: long.replace(/^--/, '--no-'), description: negation, noEnv: rest.noEnv });
}

/** A flag of another shape: the spec as `commanderOption` (options.ts) takes it, typed by the caller. */
function customFlag<T>(spec: FlagSpec): Flag<T> {
  return define(spec);
}

const LOG_LEVELS = [
  'trace',
  'debug',
  'info',
  'warn',
  'error',
  'fatal',
  'silent',
] as const satisfies readonly LogLevel[];

function logLevelFlag(defaultLevel: LogLevel = 'info'): Flag<LogLevel> {
  return choiceFlag({
    flags: '--log-level <level>',
    description: 'log level',
    choices: LOG_LEVELS,
    default: defaultLevel,
  });
}

/**
 * The flag builders, one per value kind: `flag.text({...})`, `flag.duration({...})`, … in a `defineFlags` record.
 * One name to import, so a command lists its flags, not the builders it happens to use.
 */
export const flag = {
  parsed: parsedFlag,
  text: textFlag,
  duration: durationFlag,
  int: intFlag,
  choice: choiceFlag,
  switch: switchFlag,
  custom: customFlag,
  logLevel: logLevelFlag,
} as const;

/** The definitions as they are: `defineFlags({...})` keeps each entry's type for `FlagValues`. */
export function defineFlags<const D extends FlagDefinitions>(definitions: D): D {
  return definitions;
}

/**
 * Adds every flag of `definitions` to `command`, alias defaults read from `env`. A key that is not the attribute
 * name commander gives the flag (`nodeName` for `--node-name`, `warm` for `--no-warm`) is a programming error.
 */
export function addFlags(command: Command, definitions: FlagDefinitions, env: NodeJS.ProcessEnv): Command {
  for (const [key, definition] of Object.entries(definitions)) {
    for (const spec of definition.specs) {
      const option = commanderOption(spec, env);
      if (option.attributeName() !== key) {
        throw new Error(`flag ${spec.flags} is defined as "${key}"; its value is "${option.attributeName()}"`);
      }
      command.addOption(option);
    }
  }
  return command;
}

/** A command with its description and every flag of `definitions` (see `addFlags`): how each command starts. */
export function flaggedCommand(
  name: string,
  description: string,
  definitions: FlagDefinitions,
  env: NodeJS.ProcessEnv,
): Command {
  return addFlags(new Command(name).description(description), definitions, env);
}
