/**
 * Termination signals, handled one way by every long-running program (agent, coordinator, bootstrap, run, the test cluster):
 * SIGTERM (the kubelet stopping a container) and SIGINT (Ctrl-C) ask for a graceful stop; what stopping means is the
 * program's own business.
 */

import { constants } from 'node:os';

/** The signals that ask a program to stop gracefully. */
export const TERMINATION_SIGNALS: readonly NodeJS.Signals[] = ['SIGTERM', 'SIGINT'];

/** Whether `signal` asks for a graceful stop (other signals are forwarded or ignored by whoever receives them). */
export function isTermination(signal: NodeJS.Signals): boolean {
  return TERMINATION_SIGNALS.includes(signal);
}

/**
 * Calls `handler` on every SIGTERM and SIGINT until the returned function is called. While it listens, Node's default
 * (dying at once) is off, so a program that is already stopping finishes its stop when a second signal comes.
 */
export function onTermination(handler: (signal: NodeJS.Signals) => void): () => void {
  for (const s of TERMINATION_SIGNALS) process.on(s, handler);
  return () => {
    for (const s of TERMINATION_SIGNALS) process.off(s, handler);
  };
}

/**
 * Resolves with the first SIGTERM or SIGINT and stops listening then, so a second signal ends the process the default
 * way. The handlers are in place when this returns: a signal sent right after is not lost.
 */
export function nextTermination(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const stopListening = onTermination((signal) => {
      stopListening();
      resolve(signal);
    });
  });
}

/**
 * The shell's exit status for a program ended by `signal`: 128 + its number (143 for SIGTERM, 130 for SIGINT). A
 * program that stops on a termination signal before its work is done exits with it, so a script and the kubelet
 * see a stop, not a success.
 */
export function signalExitStatus(signal: NodeJS.Signals): number {
  const n = constants.signals[signal];
  return n === undefined ? 1 : 128 + n;
}

/** What `abortOnTermination` gives: the AbortSignal, the signal that aborted it (if one did), and its end. */
export interface TerminationAbort {
  signal: AbortSignal;
  received: () => NodeJS.Signals | undefined;
  stop: () => void;
}

/**
 * An AbortSignal that aborts on the first SIGTERM or SIGINT (its `reason` an Error naming the signal), for work that
 * stops itself where it stands (a join, a copy) once asked. Listens until `stop` is called; the caller decides what
 * the stopped work leaves behind and which status it exits with (`signalExitStatus`).
 */
export function abortOnTermination(): TerminationAbort {
  const controller = new AbortController();
  let received: NodeJS.Signals | undefined;
  const stop = onTermination((signal) => {
    if (received) return;
    received = signal;
    controller.abort(new Error(`received ${signal}`));
  });
  return { signal: controller.signal, received: () => received, stop };
}
