import type { ClusterReader } from './cluster.js';
import type { BaseFormat } from './render/output.js';

/** -o's form without its template (jsonpath and custom-columns templates live in program.ts) */
type OutputFormat = BaseFormat;

/** What every verb needs: where to read, what scope, how to print. Built once per invocation by program.ts. */
export interface VerbContext {
  reader: ClusterReader;
  driver: string;
  /** undefined with -A */
  namespace: string | undefined;
  selector?: string;
  output: OutputFormat;
  headers: boolean;
  colour: boolean;
  now: () => Date;
  /** non-fatal notes (a list the user may not read), written to stderr as `warning: …` */
  warn: (message: string) => void;
}

/** What a verb produced: data for -o json|yaml, and a table renderer for -o table|wide. */
export interface View {
  data: unknown;
  table: () => string;
  /** `-o name`: `<kind>/<name>` of each object shown */
  names: () => string[];
  /** kubectl's "No resources found" line (stderr), when the list is empty */
  empty?: string | undefined;
  /** set by `check`: 1 when problems were found */
  exitCode?: number;
  /** stderr line that goes with a non-zero exit code */
  failure?: string;
}

export function isWide(ctx: VerbContext): boolean {
  return ctx.output === 'wide';
}
