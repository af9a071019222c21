/**
 * A pod condition as lockstep writes it (the agent's DevicesHealthy, the coordinator's GroupReady), and the one rule
 * both writers use to skip a write that would change nothing.
 */
export interface PodCondition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
  lastTransitionTime?: string;
}

/** Whether writing `desired` over `current` would change what readers see (the transition time aside). */
export function sameCondition(current: PodCondition | undefined, desired: PodCondition): boolean {
  return (
    current !== undefined &&
    current.status === desired.status &&
    current.reason === desired.reason &&
    current.message === desired.message
  );
}
