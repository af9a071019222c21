/**
 * The flags of `kubectl lockstep`, defined once (src/cli/define-flags.ts): kubectl's conventions (FACTS.md §10) for
 * where to read (`--kubeconfig`, `--context`, `-n`/`-A`, `-s`, `--token`, `--as`/`--as-group`,
 * `--request-timeout`), what to show (`-l`, `-o`, `--sort-by`, `--no-headers`, `-w`) and lockstep's driver name. Every
 * verb takes them all, and so does the program before the verb (`kubectl lockstep -A groups`), as kubectl accepts its
 * global flags on either side of the command; program.ts merges the two. Shell completion (completion.ts) offers the
 * same flags, from the same definitions.
 *
 * Threats: a `--request-timeout` beyond a timer's range (it would fire at once) or not a duration; an `-o` or
 * `--sort-by` that cannot be read — each a usage error (exit 2) before anything is read from the cluster.
 */
import { InvalidArgumentError, Option } from 'commander';
import { defineFlags, type FlagValues, flag } from '../cli/define-flags.js';
import { MAX_TIMER_MS } from '../cli/duration.js';
import { collect } from '../cli/options.js';
import { DRIVER } from '../contract/names.js';
import { formatDuration } from '../text/duration.js';
import { OUTPUT_FORMATS, parseOutput, parseSortBy } from './render/output.js';

/**
 * kubectl's `--request-timeout`: `0` (no timeout), a bare number of seconds, or a Go duration (`1s`, `2m`, `1m30s`,
 * `500ms`), at most a timer's range. Returns milliseconds.
 */
function parseRequestTimeout(value: string): number {
  const text = value.trim();
  const ms = /^\d+$/.test(text) ? Number(text) * 1000 : goDurationMs(text);
  if (ms === undefined) {
    throw new InvalidArgumentError(`"${value}" is not a duration: use 0, a number of seconds, or 1s, 2m, 3h`);
  }
  if (ms > MAX_TIMER_MS) {
    throw new InvalidArgumentError(`"${value}" is out of range: 0s, at most ${formatDuration(MAX_TIMER_MS)}`);
  }
  return ms;
}

/** A Go duration (`1h2m3.5s`, `500ms`, `10us`) in milliseconds; undefined when `text` is not one. */
function goDurationMs(text: string): number | undefined {
  const unit: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  const part = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/gy;
  let total = 0;
  let end = 0;
  for (let m = part.exec(text); m; m = part.exec(text)) {
    total += Number(m[1]) * unit[m[2]!]!;
    end = part.lastIndex;
  }
  return text === '' || end !== text.length ? undefined : Math.round(total);
}

export const kubectlFlags = defineFlags({
  namespace: flag.text({ flags: '-n, --namespace <ns>', description: 'namespace scope' }),
  allNamespaces: flag.switch({ flags: '-A, --all-namespaces', description: 'all namespaces', default: false }),
  context: flag.text({ flags: '--context <name>', description: 'kubeconfig context' }),
  kubeconfig: flag.text({ flags: '--kubeconfig <path>', description: 'kubeconfig file', alsoEnv: ['KUBECONFIG'] }),
  server: flag.text({ flags: '-s, --server <address>', description: 'API server address (overrides the kubeconfig)' }),
  token: flag.text({ flags: '--token <token>', description: 'bearer token (overrides the kubeconfig user)' }),
  as: flag.text({ flags: '--as <user>', description: 'impersonate this user' }),
  asGroup: flag.custom<string[] | undefined>({
    flags: '--as-group <group>',
    description: 'impersonate this group (repeatable)',
    parse: collect,
    noEnv: true,
  }),
  /** ms; absent: the client's own default */
  requestTimeout: flag.parsed({
    flags: '--request-timeout <duration>',
    description: 'give up on one API request after this long (0: never; 1s, 2m, 3h)',
    parse: parseRequestTimeout,
  }),
  selector: flag.text({ flags: '-l, --selector <selector>', description: 'label selector' }),
  /** -o as kubectl reads it: table, wide, json, yaml, name, jsonpath=…, custom-columns=… */
  output: flag.parsed({
    flags: '-o, --output <format>',
    description: `output format: ${OUTPUT_FORMATS.join('|')}`,
    default: 'table',
    parse: parseOutput,
  }),
  sortBy: flag.parsed({
    flags: '--sort-by <jsonpath>',
    description: 'sort list items by this field, e.g. .node or {.health}',
    parse: parseSortBy,
  }),
  headers: flag.switch({ flags: '--no-headers', description: 'omit table headers' }),
  watch: flag.switch({ flags: '-w, --watch', description: 'watch and redraw on change', default: false }),
  driverName: flag.text({
    flags: '--driver-name <name>',
    description: 'DRA driver name',
    default: DRIVER,
  }),
});

/** The parsed flags every verb receives (the program's and the verb's, merged). */
export type KubectlFlags = FlagValues<typeof kubectlFlags>;

/** What shell completion offers for a flag's value: names from the cluster or kubeconfig, files, formats, or nothing. */
type FlagValueKind = 'namespace' | 'context' | 'file' | 'output' | 'text';

/** Each flag's value kind for completion; a switch takes no value. Typed by the definitions: none can be left out. */
const VALUE_KINDS: { readonly [K in keyof typeof kubectlFlags]: FlagValueKind | 'switch' } = {
  namespace: 'namespace',
  allNamespaces: 'switch',
  context: 'context',
  kubeconfig: 'file',
  server: 'text',
  token: 'text',
  as: 'text',
  asGroup: 'text',
  requestTimeout: 'text',
  selector: 'text',
  output: 'output',
  sortBy: 'text',
  headers: 'switch',
  watch: 'switch',
  driverName: 'text',
};

export interface CompletionFlag {
  /** the names a user may type: `-n`, `--namespace` */
  names: string[];
  description: string;
  value?: FlagValueKind;
}

/** A description's first clause, as a completion menu shows it: `output format: a|b|c` → `output format`. */
const summary = (description: string) => description.replace(/\s*(\(|:|, e\.g\.).*$/, '');

/** The flags as completion offers them, read from the definitions. */
export const COMPLETION_FLAGS: readonly CompletionFlag[] = Object.entries(kubectlFlags).flatMap(([key, definition]) =>
  definition.specs.map((spec) => {
    const option = new Option(spec.flags);
    const kind = VALUE_KINDS[key as keyof typeof kubectlFlags];
    return {
      names: [option.short, option.long].filter((n): n is string => n !== undefined),
      description: summary(spec.description),
      ...(kind === 'switch' ? {} : { value: kind }),
    };
  }),
);
