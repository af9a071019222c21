import { DomainError, ExitStatusError, errorMessage, type FailureKind } from '../errors.js';
import { EXIT, type ExitCode } from './exit-codes.js';

/**
 * One error type for every command: it carries the exit code, and `handleCliError` is the one place that turns it
 * (or anything else thrown) into a line on stderr and a process exit code.
 */
export class CliError extends Error {
  constructor(
    readonly exitCode: number,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'CliError';
  }
}

/** Exit code 2 means "you called me wrong" (bad flags, bad values), as with most Unix tools; see exit-codes.ts. */
export const EXIT_USAGE = EXIT.usage;

export function usageError(message: string): CliError {
  return new CliError(EXIT_USAGE, message);
}

/** The exit code of each kind of domain failure (src/errors.ts). */
const EXIT_FOR_FAILURE: Readonly<Record<FailureKind, ExitCode>> = {
  failed: EXIT.failed,
  invalid: EXIT.usage,
  unavailable: EXIT.unavailable,
  'group-failed': EXIT.groupFailed,
};

/**
 * The CLI's reading of a thrown domain error: a DomainError's kind or a passed-through exit status becomes the exit
 * code; anything else is returned as it is.
 */
export function toCliError(err: unknown): unknown {
  if (err instanceof DomainError) return new CliError(EXIT_FOR_FAILURE[err.kind], err.message, { cause: err });
  if (err instanceof ExitStatusError) return new CliError(err.status, err.message, { cause: err });
  return err;
}

/** Writes `error: <message>` (one line) and returns the exit code to use. */
export function handleCliError(thrown: unknown, write: (line: string) => void): number {
  const err = toCliError(thrown);
  if (err instanceof CliError) {
    write(`error: ${oneLine(err.message)}\n`);
    return err.exitCode;
  }
  write(`error: ${oneLine(errorMessage(err))}\n`);
  return EXIT.failed;
}

function oneLine(message: string): string {
  return message.replace(/^error:\s*/i, '').replace(/\s*\n\s*/g, '; ');
}
