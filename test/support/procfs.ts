/** What tests read from /proc: which live processes a test left or started. */
import { readdirSync, readFileSync } from 'node:fs';

/** Pids of live processes whose command line holds `text`. */
export function processesMentioning(text: string): number[] {
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(text);
      } catch {
        return false; // exited while we looked
      }
    })
    .map(Number);
}
