/**
 * The first health reading discovery attaches to each device, from what the scan itself saw. The health monitors
 * (agent/health/) take over from there; this only makes sure a device that is already broken at start-up is not
 * published as healthy.
 */
import type { HealthReading, RdmaPort } from './inventory.js';
import type { NvidiaSmiGpu } from './nvidia-smi.js';

export function gpuHealth(g: NvidiaSmiGpu): HealthReading {
  const e = g.memoryErrors;
  if (g.unknownErrors.includes('product_name') || g.unknownErrors.includes('uuid')) {
    return { state: 'unhealthy', reason: 'nvidia-smi: Unknown Error reading the GPU' };
  }
  if (e.remappedRowsFailure) return { state: 'unhealthy', reason: 'row remapping failed' };
  if (g.recoveryAction && g.recoveryAction !== 'None') {
    return { state: 'unhealthy', reason: `recovery action: ${g.recoveryAction}`.slice(0, 64) };
  }
  if (g.resetRequired) return { state: 'unhealthy', reason: 'GPU reset required' };
  if (e.remappedRowsPending) return { state: 'unhealthy', reason: 'row remap pending (reset GPU)' };
  if (e.retiredPagesPending) return { state: 'unhealthy', reason: 'page retirement pending (reset GPU)' };
  if ((e.uncorrectableVolatile ?? 0) > 0) {
    return { state: 'unhealthy', reason: `${e.uncorrectableVolatile} uncorrectable ECC errors since boot` };
  }
  if (e.sramThresholdExceeded) return { state: 'unhealthy', reason: 'SRAM error threshold exceeded' };
  return { state: 'healthy' };
}

export function nicHealth(operState: string, ports: readonly RdmaPort[]): HealthReading {
  const down = ports.find((p) => p.state !== 'ACTIVE');
  if (down) return { state: 'unhealthy', reason: `${down.device} port ${down.port} ${down.state}` };
  if (operState === 'up') return { state: 'healthy' };
  if (operState === 'down' || operState === 'lowerlayerdown')
    return { state: 'unhealthy', reason: `link ${operState}` };
  // `unknown` is what many virtual and some physical drivers report while working: not a fault
  if (ports.length > 0) return { state: 'healthy' };
  return { state: 'unknown', reason: `operstate ${operState}` };
}
