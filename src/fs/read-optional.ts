import { readFile } from 'node:fs/promises';

/**
 * A file's text, or undefined when it does not exist: state lockstep keeps across restarts (checkpoint, CDI specs, the
 * environment file) is absent on a first start, which is no error. Every other failure is thrown.
 */
export async function readTextIfPresent(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}
