/**
 * The first health reading discovery attaches to each device, from what the scan itself saw. The health monitors
 * (agent/health/) take over from there; this only makes sure a device that is already broken at start-up is not
 * published as healthy.
 */
import { gpuVerdict, inputFromNvidiaSmi } from './gpu-verdict.js';
import type { HealthReading, RdmaPort } from './inventory.js';
import type { NvidiaSmiGpu } from './nvidia-smi.js';

/**
 * The GPU's reading from one `nvidia-smi -q -x` answer: the same rules the nvidia-smi health monitor applies
 * (agent/discovery/gpu-verdict.ts), so `lockstep discover`, the inventory and the running agent never disagree.
 */
export function gpuHealth(g: NvidiaSmiGpu): HealthReading {
  return gpuVerdict(inputFromNvidiaSmi(g));
}

/**
 * A NIC at first sight. A port that is down when the agent first looks (an uncabled on-board port) is not a fault: it
 * is published healthy with its link state (`state: down`); the link monitor (agent/health/link.ts) makes a port that
 * later goes from up to down a fault.
 */
export function nicHealth(operState: string, ports: readonly RdmaPort[]): HealthReading {
  const down = ports.find((p) => p.state !== 'ACTIVE');
  if (down) return { state: 'healthy', message: `${down.device} port ${down.port} ${down.state} since first seen` };
  if (operState === 'down' || operState === 'lowerlayerdown') {
    return { state: 'healthy', message: `link ${operState} since first seen` };
  }
  // `unknown` is what many virtual and some physical drivers report while working: not a fault
  return { state: 'healthy' };
}
