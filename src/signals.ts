/**
 * Termination signals, handled one way by every long-running program (agent, coordinator, run, the test cluster):
 * SIGTERM (the kubelet stopping a container) and SIGINT (Ctrl-C) ask for a graceful stop; what stopping means is the
 * program's own business.
 */

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
