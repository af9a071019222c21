import type { Progress } from './messages.js';

/**
 * The barrier's progress in words, the same wherever it is shown (bootstrap's log lines, the members' status reasons):
 * "waiting for 5/8 members: missing ranks 3, 6, 7", or "all 8 members joined". What the API shows of the pods that
 * have not joined follows in parentheses: "missing rank 1 (pod vllm-0-1: not scheduled: Unschedulable (…))".
 */
export function progressMessage(progress: Progress): string {
  const missing = progress.missingRanks;
  if (missing.length === 0) return `all ${progress.size} members joined`;
  const ranks = missing.length === 1 ? `rank ${missing[0]}` : `ranks ${abbreviate(missing)}`;
  const held = progress.notJoined ? ` (${progress.notJoined})` : '';
  return `waiting for ${progress.joined}/${progress.size} members: missing ${ranks}${held}`;
}

/** Long lists stay readable: the first 16 ranks, then how many more. */
function abbreviate(ranks: readonly number[]): string {
  if (ranks.length <= 16) return ranks.join(', ');
  return `${ranks.slice(0, 16).join(', ')} and ${ranks.length - 16} more`;
}
