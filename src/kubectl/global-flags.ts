import { type Command, InvalidArgumentError } from 'commander';
import { collect, flag } from '../cli/options.js';
import { OUTPUT_FORMATS, parseOutput, parseSortBy } from './render/output.js';

/**
 * kubectl's `--request-timeout`: `0` (no timeout), a bare number of seconds, or a Go duration (`1s`, `2m`, `1m30s`,
 * `500ms`). Returns milliseconds.
 */
function parseRequestTimeout(value: string): number {
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const unit: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  const part = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/gy;
  let total = 0;
  let end = 0;
  for (let m = part.exec(text); m; m = part.exec(text)) {
    total += Number(m[1]) * unit[m[2]!]!;
    end = part.lastIndex;
  }
  if (text === '' || end !== text.length) {
    throw new InvalidArgumentError(`"${value}" is not a duration: use 0, a number of seconds, or 1s, 2m, 3h`);
  }
  return Math.round(total);
}

/**
 * kubectl's conventions (FACTS.md §10): the flags users expect on every verb. The same flags are accepted before the
 * verb (`kubectl lockstep -A groups`), as kubectl accepts its global flags anywhere; program.ts merges the two.
 */
export function addKubectlFlags(command: Command, env: NodeJS.ProcessEnv): Command {
  return command
    .addOption(flag({ flags: '-n, --namespace <ns>', description: 'namespace scope' }, env))
    .addOption(flag({ flags: '-A, --all-namespaces', description: 'all namespaces', default: false }, env))
    .addOption(flag({ flags: '--context <name>', description: 'kubeconfig context' }, env))
    .addOption(flag({ flags: '--kubeconfig <path>', description: 'kubeconfig file', alsoEnv: ['KUBECONFIG'] }, env))
    .addOption(
      flag({ flags: '-s, --server <address>', description: 'API server address (overrides the kubeconfig)' }, env),
    )
    .addOption(flag({ flags: '--token <token>', description: 'bearer token (overrides the kubeconfig user)' }, env))
    .addOption(flag({ flags: '--as <user>', description: 'impersonate this user' }, env))
    .addOption(
      flag(
        {
          flags: '--as-group <group>',
          description: 'impersonate this group (repeatable)',
          parse: collect,
          noEnv: true,
        },
        env,
      ),
    )
    .addOption(
      flag(
        {
          flags: '--request-timeout <duration>',
          description: 'give up on one API request after this long (0: never; 1s, 2m, 3h)',
          parse: parseRequestTimeout,
        },
        env,
      ),
    )
    .addOption(flag({ flags: '-l, --selector <selector>', description: 'label selector' }, env))
    .addOption(
      flag(
        {
          flags: '-o, --output <format>',
          description: `output format: ${OUTPUT_FORMATS.join('|')}`,
          default: 'table',
          parse: (value) => {
            parseOutput(value);
            return value.startsWith('=') ? value.slice(1) : value;
          },
        },
        env,
      ),
    )
    .addOption(
      flag(
        {
          flags: '--sort-by <jsonpath>',
          description: 'sort list items by this field, e.g. .node or {.health}',
          parse: (value) => {
            parseSortBy(value);
            return value;
          },
        },
        env,
      ),
    )
    .addOption(flag({ flags: '--no-headers', description: 'omit table headers' }, env))
    .addOption(flag({ flags: '-w, --watch', description: 'watch and redraw on change', default: false }, env));
}
