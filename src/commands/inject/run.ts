/**
 * `lockstep inject`: reads one manifest (file or stdin), writes the injected manifest on stdout.
 *
 * Threats: a path that is not a regular file (a FIFO would block for ever, a directory fails deep in a parser),
 * input larger than memory should hold (limit `--max-input-size`, 16 MiB by default, stdin cut off as it passes
 * it), binary data that a text parser would "rewrite" into garbage (refused: NUL bytes or invalid UTF-8); what the
 * text itself can do is in src/inject/text.ts.
 */

import { readFile, stat } from 'node:fs/promises';
import { CliError, usageError } from '../../cli/errors.js';
import { EXIT } from '../../cli/exit-codes.js';
import { formatByteSize } from '../../cli/options.js';
import { errorMessage } from '../../errors.js';
import { decodeText, describeFileType } from '../../fs/input-checks.js';
import { splitWords } from '../../inject/engine.js';
import { type GangPlan, SCHEDULING_GROUP } from '../../inject/gang.js';
import { type CommandChoice, InjectError, type InjectOptions } from '../../inject/options.js';
import { injectText } from '../../inject/text.js';
import { discoverGangPlan } from './gang-discovery.js';
import type { InjectFlags } from './index.js';

/** Exit code for manifests inject refuses (bad input, not bad flags). */
const EXIT_REFUSED = EXIT.failed;

export async function runInject(flags: InjectFlags): Promise<void> {
  if (!flags.filename) throw usageError('missing -f, --filename (a manifest file, or - for stdin)');
  const text = await readInput(flags.filename, flags.maxInputSize);
  const commands = (flags.command ?? []).map(commandChoice);
  const options: InjectOptions = {
    image: flags.image,
    engine: flags.engine,
    commands,
    topologyKey: flags.topologyKey,
    keepRestartPolicy: flags.keepRestartPolicy,
    passThrough: flags.passThrough,
    ...(flags.tlsSecret ? { tlsSecret: flags.tlsSecret } : {}),
    gang: await gangPlanFor(flags),
    ...(flags.gpuClaims ? { gpuClaims: flags.gpuClaims === true ? 'gpus' : flags.gpuClaims } : {}),
  };
  let result: ReturnType<typeof injectText>;
  try {
    result = injectText(text, options);
  } catch (err) {
    if (err instanceof InjectError) throw new CliError(EXIT_REFUSED, err.message);
    throw err;
  }
  for (const warning of result.report.warnings) process.stderr.write(`warning: ${warning}\n`);
  if (flags.explain) {
    for (const change of result.report.changes) process.stderr.write(`${change}\n`);
    if (result.report.changes.length === 0) process.stderr.write('no changes\n');
    else for (const note of result.report.notes) process.stderr.write(`note: ${note}\n`);
  }
  process.stdout.write(result.output);
}

/**
 * The gang plan: --no-gang off; --gang-api-version as given; otherwise what the cluster serves (discovery). --gang
 * asks for it, so a cluster without PodGroups is also a warning, not only a note in --explain.
 */
async function gangPlanFor(flags: InjectFlags): Promise<GangPlan> {
  if (flags.gang === false) return { off: 'off (--no-gang)' };
  if (flags.gangApiVersion) return { apiVersion: `${SCHEDULING_GROUP}/${flags.gangApiVersion}` };
  const plan = await discoverGangPlan(flags.kubeconfig);
  if (flags.gang === true && 'off' in plan) process.stderr.write(`warning: --gang: ${plan.off}\n`);
  return plan;
}

/** `[TARGET=]COMMAND`: a target is a Kubernetes name directly before `=` (a `--flag=value` word is not one). */
function commandChoice(value: string): CommandChoice {
  const target = /^([a-z0-9]([-a-z0-9.]*[a-z0-9])?)=/.exec(value);
  let words: string[];
  try {
    words = splitWords(target ? value.slice(target[0].length) : value);
  } catch (err) {
    throw usageError(`--command: ${errorMessage(err)}`);
  }
  if (words.length === 0) throw usageError(`--command ${value}: no command after the target`);
  return target ? { target: target[1]!, words } : { words };
}

/**
 * Reads the manifest, refusing what is not one before any parsing: a path that is not a regular file (a directory,
 * a FIFO that would block), input larger than `maxBytes` (stdin is cut off as soon as it passes the limit, so an
 * endless stream costs at most the limit), and binary data.
 */
async function readInput(filename: string, maxBytes: number): Promise<string> {
  const name = filename === '-' ? 'stdin' : filename;
  const tooLarge = (size: string) =>
    new CliError(
      EXIT_REFUSED,
      `${name} is ${size}, over the ${formatByteSize(maxBytes)} limit (raise it with --max-input-size)`,
    );
  let bytes: Buffer;
  try {
    if (filename === '-') {
      const chunks: Buffer[] = [];
      let total = 0;
      for await (const chunk of process.stdin) {
        total += (chunk as Buffer).length;
        if (total > maxBytes) throw tooLarge(`more than ${total} bytes`);
        chunks.push(chunk as Buffer);
      }
      bytes = Buffer.concat(chunks);
    } else {
      const info = await stat(filename);
      if (!info.isFile())
        throw new CliError(EXIT_REFUSED, `${filename} is ${describeFileType(info)}, not a manifest file`);
      if (info.size > maxBytes) throw tooLarge(`${info.size} bytes`);
      bytes = await readFile(filename);
      if (bytes.length > maxBytes) throw tooLarge(`${bytes.length} bytes`);
    }
  } catch (err) {
    if (err instanceof CliError) throw err;
    throw new CliError(EXIT_REFUSED, `cannot read ${name}: ${errorMessage(err)}`);
  }
  const decoded = decodeText(bytes);
  if (!decoded.ok) throw new CliError(EXIT_REFUSED, `${name} is not a YAML or JSON manifest: ${decoded.reason}`);
  return decoded.text;
}
