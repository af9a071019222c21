/**
 * Who a member is, from what the pod knows about itself (flags, LWS/Job env, its name, its devices). Pure functions
 * over env and a device listing, so tests feed them plain data.
 */
import type { MemberDevice } from '../protocol/messages.js';

export interface RankHint {
  rank: number;
  /** where the rank came from, quoted in error messages */
  source: string;
}

/** `web-3` → { base: 'web', ordinal: 3 }: StatefulSet pod names end in their ordinal. */
export function parseOrdinal(podName: string): { base: string; ordinal: number } | undefined {
  const m = /^(.+)-(0|[1-9]\d{0,8})$/.exec(podName);
  if (!m) return undefined;
  return { base: m[1]!, ordinal: Number(m[2]) };
}

const INDEX = /^(0|[1-9]\d{0,8})$/;

/**
 * The rank the workload fixes, strongest first: --rank (or its LOCKSTEP_RANK twin), LWS_WORKER_INDEX,
 * JOB_COMPLETION_INDEX (indexed Job / JobSet), then the StatefulSet ordinal at the end of the pod name.
 */
export function rankHint(
  flagRank: number | undefined,
  flagFromCli: boolean,
  env: NodeJS.ProcessEnv,
  podName: string | undefined,
): RankHint | undefined {
  if (flagFromCli && flagRank !== undefined) return { rank: flagRank, source: '--rank' };
  for (const name of ['LOCKSTEP_RANK', 'LWS_WORKER_INDEX', 'JOB_COMPLETION_INDEX']) {
    const value = env[name]?.trim();
    if (value && INDEX.test(value)) return { rank: Number(value), source: `${name}=${value}` };
  }
  if (flagRank !== undefined) return { rank: flagRank, source: '--rank' };
  const ordinal = podName ? parseOrdinal(podName) : undefined;
  if (ordinal) return { rank: ordinal.ordinal, source: `ordinal of pod ${podName}` };
  return undefined;
}

/**
 * The accelerators this pod holds. An explicit list wins; then the container runtime's NVIDIA_VISIBLE_DEVICES (ids or
 * UUIDs; `all` means every /dev/nvidiaN node); then the device nodes themselves (/dev/nvidiaN, /dev/accelN for TPUs).
 */
export function detectDevices(
  explicit: string | undefined,
  env: NodeJS.ProcessEnv,
  devNames: readonly string[],
): MemberDevice[] {
  const list = (text: string, kind: string) =>
    text
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '')
      .map((id) => ({ id, kind }));
  if (explicit !== undefined) return list(explicit, 'gpu');
  const nodes = (re: RegExp, kind: string) =>
    devNames
      .filter((n) => re.test(n))
      .sort((a, b) => Number(a.replace(/\D/g, '')) - Number(b.replace(/\D/g, '')))
      .map((id) => ({ id, kind }));
  const visible = env.NVIDIA_VISIBLE_DEVICES?.trim();
  if (visible && visible !== 'all' && visible !== 'none' && visible !== 'void') return list(visible, 'gpu');
  const gpus = nodes(/^nvidia\d+$/, 'gpu');
  if (gpus.length > 0 || visible === 'all') return gpus;
  return nodes(/^accel\d+$/, 'tpu');
}
