import { InvalidArgumentError, Option } from 'commander';

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
  default?: string | boolean | number | string[];
  /** further variables read when the LOCKSTEP_ twin is unset, in order */
  alsoEnv?: readonly string[];
  /** allowed values: anything else is a usage error */
  choices?: readonly string[];
  parse?: (value: string, previous: unknown) => unknown;
  /** flags such as kubectl's `-o` have no env twin when they are per-invocation output choices */
  noEnv?: boolean;
}

export function flag(spec: FlagSpec, env: NodeJS.ProcessEnv = process.env): Option {
  const option = new Option(spec.flags, spec.description);
  const long = option.long;
  if (long && !spec.noEnv) {
    option.env(envName(long));
  }
  if (spec.choices) option.choices(spec.choices);
  if (spec.parse) option.argParser(spec.parse);
  const fromAlias = spec.alsoEnv?.map((name) => env[name]).find((v) => v !== undefined && v !== '');
  if (fromAlias !== undefined) {
    option.default(spec.parse ? spec.parse(fromAlias, undefined) : fromAlias, `$${spec.alsoEnv?.join(' or $')}`);
  } else if (spec.default !== undefined) {
    option.default(spec.default);
  }
  return option;
}

/** Parsers that turn bad values into commander usage errors (exit 2, `error: …`). */
export function parseDuration(value: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(value.trim());
  if (!m) throw new InvalidArgumentError(`"${value}" is not a duration (examples: 500ms, 2s, 5m, 1h)`);
  const n = Number(m[1]);
  const unit = m[2] ?? 's';
  const factor = unit === 'ms' ? 1 : unit === 's' ? 1000 : unit === 'm' ? 60_000 : 3_600_000;
  return Math.round(n * factor);
}

export function parsePositiveInt(value: string): number {
  if (!/^\d+$/.test(value.trim()) || Number(value) <= 0) {
    throw new InvalidArgumentError(`"${value}" is not a positive integer`);
  }
  return Number(value);
}

export function parseNonNegativeInt(value: string): number {
  if (!/^\d+$/.test(value.trim())) throw new InvalidArgumentError(`"${value}" is not a non-negative integer`);
  return Number(value);
}

export function parsePort(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || n < 1 || n > 65535) {
    throw new InvalidArgumentError(`"${value}" is not a TCP port (1-65535)`);
  }
  return n;
}

export function collect(value: string, previous: unknown): string[] {
  return [...(Array.isArray(previous) ? (previous as string[]) : []), value];
}

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export function logLevelFlag(env: NodeJS.ProcessEnv = process.env, defaultLevel: LogLevel = 'info'): Option {
  return flag(
    { flags: '--log-level <level>', description: 'log level', default: defaultLevel, choices: LOG_LEVELS },
    env,
  );
}
