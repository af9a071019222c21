/**
 * Errors of the code below the CLI (agent/, leader/, the shared infrastructure in src/). They say what kind of
 * failure happened, never which exit code it becomes: the CLI (src/cli/errors.ts) maps a kind to an exit code of
 * src/cli/exit-codes.ts, so domain code never imports the CLI.
 */

/**
 * - `failed`: the input or the request was refused, something was not found, an I/O error
 * - `invalid`: a value the caller gave (a flag, its environment twin, a configuration field) is not acceptable
 * - `unavailable`: could not reach or check (API server, coordinator), or gave up waiting
 * - `group-failed`: the group reached Failed (its restart budget is spent)
 */
export type FailureKind = 'failed' | 'invalid' | 'unavailable' | 'group-failed';

/** A failure whose kind the CLI turns into an exit code. `cause` keeps the error it wraps. */
export class DomainError extends Error {
  override name = 'DomainError';
  constructor(
    readonly kind: FailureKind,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** A child process (the engine) ended by itself with a non-zero status that the command passes through as its own. */
export class ExitStatusError extends Error {
  override name = 'ExitStatusError';
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** The message of anything thrown: an Error's message, anything else as a string. */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
