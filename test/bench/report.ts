/**
 * One row of the benchmark report: a budget from DESIGN.md, what this run measured, and the peer measured in the
 * same run. Every test/bench/<name>.bench.ts default-exports `async (ctx: BenchContext) => BenchRow[]`.
 */
export interface BenchRow {
  /** stable id, e.g. `discover.h100` */
  id: string;
  /** what was measured, in words */
  what: string;
  /** the budget as DESIGN.md states it, e.g. `≤ 300 ms wall` ('' when the row only informs) */
  budget: string;
  /** the measured figure with its unit, e.g. `182 ms (median of 15)` */
  measured: string;
  /** the peer's figure measured in the same run, when there is one */
  peer?: string;
  /** measured / peer, when both are times of the same job */
  ratio?: number;
  /** whether the budget was met (undefined when the row has no budget) */
  withinBudget?: boolean;
  /** raw numbers for the JSON report */
  data?: Record<string, unknown>;
}

export interface BenchContext {
  /** repository root */
  root: string;
  /** scale down sizes and repetitions (BENCH_QUICK=1) */
  quick: boolean;
  log: (line: string) => void;
}

export type Bench = (ctx: BenchContext) => Promise<BenchRow[]>;

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}
