import { humanDuration } from '../../../src/kubectl/render/age.js';

/** Ages in the server's table printers, in the same format kubectl lockstep prints (one implementation of it). */
export function ageOf(timestamp: string | undefined, now: number): string {
  if (!timestamp) return '<unknown>';
  return humanDuration(now - Date.parse(timestamp));
}
