/**
 * The node kinds `npm run cluster -- --nodes` accepts. Kept apart from playground.ts so a bad flag is answered
 * before the cluster's modules load.
 */
import { SIMULATED_NODE_KINDS, type SimulatedNodeKind } from './nodes/index.js';

/** Short names users type, besides the kinds' own names. */
const NODE_KIND_ALIASES: Readonly<Record<string, SimulatedNodeKind>> = { h100: 'h100-hgx', cpu: 'cpu-vm' };

/** `h100,h100` → the kinds; an unknown name throws with the accepted ones. */
export function parseNodeKinds(text: string): SimulatedNodeKind[] {
  const names = text.split(',').map((n) => n.trim());
  return names.map((name) => {
    const kind = NODE_KIND_ALIASES[name] ?? SIMULATED_NODE_KINDS.find((k) => k === name);
    if (!kind) {
      const accepted = [...Object.keys(NODE_KIND_ALIASES), ...SIMULATED_NODE_KINDS].join(', ');
      throw new Error(`--nodes: unknown node kind "${name}" (accepted: ${accepted})`);
    }
    return kind;
  });
}
