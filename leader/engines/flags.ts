import { flagValue, spellings } from './argv.js';
import { EngineError } from './types.js';

/**
 * Group flags an engine needs, added unless the user already gave them. A user value that contradicts the group
 * (e.g. --nnodes 3 in a group of 2) is an error rather than silently overridden: one of the two is wrong.
 */
export function addGroupFlags(
  engine: string,
  argv: readonly string[],
  wanted: ReadonlyArray<readonly [flag: string, value: string | undefined]>,
  options: { mustMatch?: readonly string[]; style?: 'separate' | 'equals' } = {},
): string[] {
  const out = [...argv];
  const added: string[] = [];
  for (const [flag, value] of wanted) {
    const names = spellings(flag);
    const given = flagValue(argv, names);
    const present = given !== undefined || argv.some((a) => names.includes(a));
    if (present) {
      if (value !== undefined && given !== undefined && given !== value && options.mustMatch?.includes(flag)) {
        throw new EngineError(
          `${engine}: the command says ${flag} ${given}, but the group gives ${value}; remove ${flag} and let lockstep set it`,
        );
      }
      continue;
    }
    if (value === undefined) added.push(flag);
    else if (options.style === 'equals') added.push(`${flag}=${value}`);
    else added.push(flag, value);
  }
  return [...out, ...added];
}

export function positiveInt(engine: string, flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value) || Number(value) < 1) {
    throw new EngineError(`${engine}: ${flag} must be a positive integer, got "${value}"`);
  }
  return Number(value);
}
