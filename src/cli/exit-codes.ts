/**
 * The one exit-code table of `lockstep` and `kubectl lockstep`. Every command exits with one of these (or, for
 * `lockstep run`, with the engine's own status when the engine ends by itself).
 *
 * kubectl's convention (FACTS.md §10) is followed where it has one: errors are one `error: …` line with exit 1, and
 * check-style commands exit 0 (all good), 1 (problems found), above 1 (could not check). kubectl also exits 1 for a
 * usage error; lockstep exits 2 there instead, as POSIX tools and shells do, so a script can tell "you called me
 * wrong" from "it failed" — a usage error can never be a finding.
 */
export const EXIT = {
  /** done; `check`: everything in scope is healthy */
  ok: 0,
  /** failed: input refused (inject, a coordinator refusing a member), `check` found problems, not found, I/O error */
  failed: 1,
  /** usage: unknown verb or flag, no verb, a bad value in a flag, its env twin or a Kubernetes alias variable */
  usage: 2,
  /** unavailable: could not check or reach (API server, kubeconfig, coordinator) or gave up waiting (--timeout) */
  unavailable: 3,
  /**
   * `lockstep run`: the group reached Failed (restart budget spent) and the engine was stopped; `bootstrap`/`run`: the
   * coordinator refused this pod because its group has failed
   */
  groupFailed: 4,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** The table as `--help` and README print it. */
export const EXIT_CODE_HELP = [
  'Exit codes:',
  '  0  success (check: all healthy)',
  '  1  failed: input refused, problems found (check), not found, I/O error',
  '  2  usage error: unknown verb or flag, no verb, bad flag or environment value',
  '  3  unavailable: could not check or reach the API server or coordinator, or timed out',
  '  4  run: the group failed (restart budget spent); run/bootstrap: a pod joining a failed group is refused',
  '  run passes the engine’s own exit status through when the engine ends by itself',
  '  bootstrap, run: 128 + the signal’s number (143 SIGTERM, 130 SIGINT) when a signal stops them before they are done',
].join('\n');
