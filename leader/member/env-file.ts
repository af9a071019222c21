/**
 * The environment file bootstrap leaves on the shared volume: a shell-sourceable file and a JSON twin beside it
 * (`group.env` → `group.env.json`). Both are written atomically (temp + fsync + rename), shell first, so the JSON
 * existing means both are complete; `run` reads the JSON.
 */

import { errorMessage } from '../../src/errors.js';
import { writeFilesAtomic } from '../../src/fs/atomic-file.js';
import { readTextIfPresent } from '../../src/fs/read-optional.js';
import { ENV_NAME } from '../environment.js';
import type { Release } from '../protocol/messages.js';

const ENV_FILE_VERSION = 1;

export interface EnvFile {
  version: typeof ENV_FILE_VERSION;
  group: string;
  namespace: string;
  rank: number;
  epoch: number;
  size: number;
  /** the pod name the coordinator knows this member by */
  memberId: string;
  /** what run presents to attach (the secret of bootstrap's Join); absent: run joins again itself */
  sessionSecret?: string;
  /** host:port of the coordinator, so run can attach without searching again */
  coordinator: string;
  /** how often run heartbeats (the coordinator's choice at Join) */
  heartbeatIntervalMs?: number;
  env: Record<string, string>;
  release: Release;
}

export function jsonPathFor(envFile: string): string {
  return `${envFile}.json`;
}

/** POSIX single quoting: everything literal, a quote becomes '\''. */
function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

export function renderShell(file: EnvFile): string {
  const lines = [
    `# lockstep group environment: group ${file.group}, rank ${file.rank}/${file.size}, epoch ${file.epoch}`,
    '# written by `lockstep bootstrap`; source it with: . <this file>',
  ];
  for (const [name, value] of Object.entries(file.env)) {
    if (!ENV_NAME.test(name)) throw new Error(`refusing to write variable with invalid name "${name}"`);
    lines.push(`export ${name}=${shellQuote(value)}`);
  }
  return `${lines.join('\n')}\n`;
}

function parseEnvFile(text: string, path: string): EnvFile {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new Error(`${path} is not valid JSON: ${errorMessage(err)}`, { cause: err });
  }
  const file = value as Partial<EnvFile> | null;
  if (
    !file ||
    typeof file !== 'object' ||
    file.version !== ENV_FILE_VERSION ||
    typeof file.env !== 'object' ||
    file.env === null ||
    typeof file.rank !== 'number' ||
    typeof file.group !== 'string'
  ) {
    throw new Error(`${path} is not a lockstep group environment file (version ${ENV_FILE_VERSION})`);
  }
  for (const [k, v] of Object.entries(file.env)) {
    if (!ENV_NAME.test(k) || typeof v !== 'string') throw new Error(`${path}: bad variable "${k}"`);
  }
  return file as EnvFile;
}

/**
 * Both files are written atomically, shell first, JSON last, so a reader that finds the JSON finds a complete shell
 * file too.
 */
export async function writeEnvFile(path: string, file: EnvFile): Promise<void> {
  await writeFilesAtomic([
    { path, content: renderShell(file) },
    { path: jsonPathFor(path), content: `${JSON.stringify(file, null, 2)}\n` },
  ]);
}

/** The environment file, or undefined when bootstrap has not written one. */
export async function readEnvFile(path: string): Promise<EnvFile | undefined> {
  const json = jsonPathFor(path);
  const text = await readTextIfPresent(json);
  return text === undefined ? undefined : parseEnvFile(text, json);
}
