import { EXIT } from './exit-codes.js';

/**
 * One error type for every command: it carries the exit code, and `handleCliError` is the one place that turns it
 * (or anything else thrown) into a line on stderr and a process exit code.
 */
export class CliError extends Error {
  constructor(
    readonly exitCode: number,
    message: string,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

/** Exit code 2 means "you called me wrong" (bad flags, bad values), as with most Unix tools; see exit-codes.ts. */
export const EXIT_USAGE = EXIT.usage;

export function usageError(message: string): CliError {
  return new CliError(EXIT_USAGE, message);
}

/** The only allowed placeholder: a command whose issue has not landed yet. */
export function notImplemented(what: string): CliError {
  return new CliError(EXIT_USAGE, `not implemented yet: ${what}`);
}

/** Writes `error: <message>` (one line) and returns the exit code to use. */
export function handleCliError(err: unknown, write: (line: string) => void): number {
  if (err instanceof CliError) {
    write(`error: ${oneLine(err.message)}\n`);
    return err.exitCode;
  }
  const message = err instanceof Error ? err.message : String(err);
  write(`error: ${oneLine(message)}\n`);
  return EXIT.failed;
}

function oneLine(message: string): string {
  return message.replace(/^error:\s*/i, '').replace(/\s*\n\s*/g, '; ');
}
