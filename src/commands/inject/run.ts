import { readFile } from 'node:fs/promises';
import { CliError } from '../../cli/errors.js';
import { splitWords } from '../../inject/engine.js';
import { InjectError, type InjectOptions } from '../../inject/options.js';
import { injectText } from '../../inject/text.js';
import { IMAGE } from '../../version.js';
import type { InjectFlags } from './index.js';

/** Exit code for manifests inject refuses (bad input, not bad flags). */
export const EXIT_REFUSED = 1;

export async function runInject(flags: InjectFlags): Promise<void> {
  if (!flags.filename) throw new CliError(2, 'missing -f, --filename (a manifest file, or - for stdin)');
  const text = await readInput(flags.filename);
  let command: string[] | undefined;
  try {
    command = flags.command === undefined ? undefined : splitWords(flags.command);
  } catch (err) {
    throw new CliError(2, `--command: ${(err as Error).message}`);
  }
  const options: InjectOptions = {
    image: flags.image ?? IMAGE,
    engine: flags.engine,
    command,
    keepRestartPolicy: flags.keepRestartPolicy,
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

async function readInput(filename: string): Promise<string> {
  try {
    if (filename === '-') {
      const chunks: Buffer[] = [];
      for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
      return Buffer.concat(chunks).toString('utf8');
    }
    return await readFile(filename, 'utf8');
  } catch (err) {
    throw new CliError(EXIT_REFUSED, `cannot read ${filename === '-' ? 'stdin' : filename}: ${(err as Error).message}`);
  }
}
