/**
 * How lockstep turns a flag definition into a commander option (`commanderOption`: name, env twin, Kubernetes alias
 * variables, default, parser and range), and the parsers themselves. Commands define their flags once, typed, with
 * the builders of define-flags.ts (`flag.text`, …), so `--help`, the env twin, the checks and the command bodies never
 * drift apart.
 *
 * Threats (flag values and environment variables are user input, often templated into manifests):
 * - a bare number where a duration is meant (`2000`): refused, see duration.ts;
 * - out-of-range numbers (`--group-size 99999999999999999999` once sized an array and OOMed the coordinator;
 *   a delay above 2^31-1 ms fires at once): every numeric flag has a range;
 * - a bad value in a Kubernetes alias variable (`LWS_GROUP_SIZE=abc`): a usage error, but only for the command that
 *   uses the flag — it is checked when that command runs (see `checkAliasValues`), never while the program is built,
 *   so `lockstep --version` or `discover` are not broken by another command's environment;
 * - empty strings (`--image ""`): refused where an empty value is meaningless;
 * - hostile manifests given to `lockstep inject` (YAML/JSON input: alias bombs, deep nesting, binary data, endless
 *   stdin): see src/commands/inject/run.ts and src/inject/text.ts.
 * Tests: test/cli/options.test.ts (grammar of durations, sizes and ranges, with fast-check), test/cli/programs.test.ts
 * (alias variables checked only by the command that reads them), test/inject/hostile.test.ts (manifests).
 */
import { type Command, InvalidArgumentError, Option } from 'commander';
import { MAX_GROUP_SIZE } from '../contract/names.js';
import { parseHostPort } from '../net/host-port.js';
import { formatDuration } from '../text/duration.js';
import { MAX_TIMER_MS, readDuration } from './duration.js';

/**
 * Every flag has an environment-variable twin: `--node-name` ↔ `LOCKSTEP_NODE_NAME`. Precedence is the usual one:
 * command line, then the twin, then any Kubernetes-convention variable (`alsoEnv`, e.g. NODE_NAME from the downward
 * API), then the default.
 */
export function envName(longFlag: string): string {
  return `LOCKSTEP_${longFlag.replace(/^--/, '').replace(/-/g, '_').toUpperCase()}`;
}

export interface FlagSpec {
  /** commander flag syntax, e.g. `--node-name <name>` or `-o, --output <format>` */
  flags: string;
  description: string;
  /**
   * With a parser, a string default is parsed like a user value and shown as written (`'2s'` → 2000 ms, shown
   * `(default: 2s)`), so `--help` always shows a default in the flag's own grammar.
   */
  default?: unknown;
  /** further variables read when the LOCKSTEP_ twin is unset, in order */
  alsoEnv?: readonly string[];
  /** allowed values: anything else is a usage error */
  choices?: readonly string[];
  parse?: (value: string, previous: unknown) => unknown;
  /** flags such as kubectl's `-o` have no env twin when they are per-invocation output choices */
  noEnv?: boolean;
}

/** A default taken from a Kubernetes alias variable, parsed only when the command that owns the flag runs. */
interface AliasDefault {
  variable: string;
  raw: string;
  parse: (value: string, previous: unknown) => unknown;
}

const aliasDefaults = new WeakMap<Option, AliasDefault>();

export function commanderOption(spec: FlagSpec, env: NodeJS.ProcessEnv = process.env): Option {
  const option = new Option(spec.flags, spec.description);
  const long = option.long;
  if (long && !spec.noEnv) {
    option.env(envName(long));
  }
  if (spec.choices) option.choices(spec.choices);
  if (spec.parse) option.argParser(spec.parse);
  const alias = spec.alsoEnv?.find((name) => env[name] !== undefined && env[name] !== '');
  if (alias !== undefined) {
    const raw = env[alias] as string;
    option.default(raw, `$${alias}`);
    if (spec.parse) aliasDefaults.set(option, { variable: alias, raw, parse: spec.parse });
  } else if (spec.default !== undefined) {
    if (spec.parse && typeof spec.default === 'string')
      option.default(spec.parse(spec.default, undefined), spec.default);
    else option.default(spec.default);
  }
  return option;
}

/**
 * Parses the alias-variable defaults of the command about to run (a commander `preAction` hook, installed by
 * `runProgram`): a bad value is a usage error naming the variable, like a bad LOCKSTEP_ twin.
 */
function checkAliasValues(command: Command): void {
  for (const option of command.options) {
    const alias = aliasDefaults.get(option);
    if (!alias) continue;
    const key = option.attributeName();
    if (command.getOptionValueSource(key) !== 'default' || command.getOptionValue(key) !== alias.raw) continue;
    try {
      command.setOptionValueWithSource(key, alias.parse(alias.raw, undefined), 'default');
    } catch (err) {
      const why = err instanceof InvalidArgumentError ? ` ${err.message}` : '';
      command.error(`option '${option.flags}' value '${alias.raw}' from env '${alias.variable}' is invalid.${why}`, {
        code: 'commander.invalidArgument',
        exitCode: 2,
      });
    }
  }
}

/** Installs `checkAliasValues` for every subcommand of `program` (hooks of a parent run for its subcommands). */
export function installFlagChecks(program: Command): Command {
  return program.hook('preAction', (_root, actionCommand) => checkAliasValues(actionCommand));
}

// Parsers that turn bad values into commander usage errors (exit 2, `error: …`).

export interface DurationRange {
  /** smallest accepted value in ms; 1 unless zero means something (then 0) */
  minMs?: number;
  /** largest accepted value in ms; a timer's limit unless given */
  maxMs?: number;
}

/** A duration parser for one flag's range: `durationParser({ minMs: 0 })` also accepts `0s`. */
export function durationParser(range: DurationRange = {}): (value: string) => number {
  const min = range.minMs ?? 1;
  const max = range.maxMs ?? MAX_TIMER_MS;
  return (value) => {
    const read = readDuration(value);
    if (!read.ok) throw new InvalidArgumentError(read.reason);
    if (read.ms < min || read.ms > max) {
      const low = min === 0 ? '0s' : min === 1 ? 'more than 0' : `at least ${formatDuration(min)}`;
      throw new InvalidArgumentError(
        `${JSON.stringify(value)} is out of range: ${low}, at most ${formatDuration(max)}`,
      );
    }
    return read.ms;
  };
}

/** Any positive duration a timer can hold: `500ms`, `2s`, `10m`, `1h`, `1m30s`. */
export const parseDuration = durationParser();

/** Integers only: digits, no sign, no exponent, no fraction, at most 15 digits (exact in a double). */
export function intParser(min: number, max: number, what = 'an integer'): (value: string) => number {
  return (value) => {
    const text = value.trim();
    if (!/^\d{1,15}$/.test(text)) throw new InvalidArgumentError(`"${value}" is not ${what} (${min}-${max})`);
    const n = Number(text);
    if (n < min || n > max) throw new InvalidArgumentError(`"${value}" is out of range: ${what} ${min}-${max}`);
    return n;
  };
}

export const parseGroupSize = intParser(1, MAX_GROUP_SIZE, 'a group size');
export const parseRank = intParser(0, MAX_GROUP_SIZE - 1, 'a rank');
export const parsePort = intParser(1, 65_535, 'a TCP port');

/** A value that must say something: `--image ""` is refused rather than written into a manifest. */
export function parseNonEmpty(value: string): string {
  if (value.trim() === '') throw new InvalidArgumentError('must not be empty');
  return value;
}

const SIZE_UNITS: Readonly<Record<string, number>> = { '': 1, Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3 };

/** A byte size in Kubernetes' binary-suffix form: `16Mi`, `512Ki`, `1Gi`, or plain bytes. */
export function byteSizeParser(min: number, max: number): (value: string) => number {
  return (value) => {
    const m = /^(\d{1,12})(Ki|Mi|Gi)?$/.exec(value.trim());
    if (!m) throw new InvalidArgumentError(`"${value}" is not a size (examples: 16Mi, 512Ki, 1Gi, 1048576)`);
    const bytes = Number(m[1]) * (SIZE_UNITS[m[2] ?? ''] as number);
    if (bytes < min || bytes > max) {
      throw new InvalidArgumentError(`"${value}" is out of range: ${formatByteSize(min)}-${formatByteSize(max)}`);
    }
    return bytes;
  };
}

/** 16777216 → `16Mi`, 1500 → `1500` (bytes), for messages and `--help`. */
export function formatByteSize(bytes: number): string {
  for (const unit of ['Gi', 'Mi', 'Ki'] as const) {
    const size = SIZE_UNITS[unit] as number;
    if (bytes >= size && bytes % size === 0) return `${bytes / size}${unit}`;
  }
  return `${bytes}`;
}

export function collect(value: string, previous: unknown): string[] {
  return [...(Array.isArray(previous) ? (previous as string[]) : []), value];
}

/**
 * `host:port` to listen on (host optional, IPv6 in brackets): `:8080`, `0.0.0.0:7470`, `[::1]:9000`. Port 0 asks the
 * kernel for a free port (tests use it); anything above 65535 or without a port is refused.
 */
export function parseListenAddress(value: string): string {
  if (parseHostPort(value)?.port === undefined) {
    throw new InvalidArgumentError(
      `"${value}" is not a listen address: expected [host]:port with port 0-65535, e.g. ":8080" or "0.0.0.0:7470"`,
    );
  }
  return value.trim();
}
