import { Writable } from 'node:stream';
import { type DestinationStream, type LevelWithSilent, type Logger, pino } from 'pino';

export type { Logger } from 'pino';

/** pino's levels and `silent` (the CLI's `--log-level` offers each of them). */
export type LogLevel = LevelWithSilent;

export interface LogOptions {
  level: LogLevel;
  /**
   * Daemons (agent, coordinator) log JSON to stdout as containers should. Commands whose stdout is data (discover,
   * inject, the kubectl plugin) log to stderr so their output stays parseable.
   */
  to?: 'stdout' | 'stderr';
  /** human-readable lines; on when the stream is a terminal (containers never are, so they never load the pretty-printer) */
  pretty?: boolean;
  /** tests pass a sink to capture records */
  sink?: DestinationStream;
  /** the program's name on every line (as componentLogger adds it) */
  component?: string;
}

// pino-pretty costs start-up time (bootstrap's budget is 200 ms to Join), so it is loaded only when a terminal can show it.
const prettyModule =
  process.stdout.isTTY === true || process.stderr.isTTY === true ? (await import('pino-pretty')).default : undefined;

export function createLogger(options: LogOptions): Logger {
  const target = options.to === 'stderr' ? process.stderr : process.stdout;
  const human = (options.pretty ?? target.isTTY === true) && prettyModule !== undefined;
  const stream: DestinationStream =
    options.sink ??
    (human
      ? prettyModule!({ colorize: !process.env.NO_COLOR, sync: true, destination: target as unknown as Writable })
      : pino.destination({ fd: options.to === 'stderr' ? 2 : 1, sync: false }));
  const log = pino(
    { level: options.level, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime },
    stream,
  );
  return options.component === undefined ? log : componentLogger(log, options.component);
}

/** One child logger per component, so every line says where it came from (the one key for it: `component`). */
export function componentLogger(parent: Logger, component: string): Logger {
  return parent.child({ component });
}

/** A logger that drops everything: for library code called without one and for quiet tests. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' }, new Writable({ write: (_c, _e, cb) => cb() }));
}
