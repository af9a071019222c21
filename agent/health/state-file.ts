import { errorMessage } from '../../src/errors.js';
import { writeFileAtomic } from '../../src/fs/atomic-file.js';
import { readTextIfPresent } from '../../src/fs/read-optional.js';

/** Reads a JSON state file; undefined when it does not exist. A file that is not JSON is an error with its path. */
export async function readJsonState(path: string): Promise<unknown> {
  const text = await readTextIfPresent(path);
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new Error(`${path}: not valid JSON (${errorMessage(err)})`, { cause: err });
  }
}

/** Serialises async writes so the last state written is the last state asked for. */
export class SerialWriter {
  private chain: Promise<void> = Promise.resolve();

  constructor(
    private readonly path: string,
    private readonly onError: (err: unknown) => void,
  ) {}

  write(data: string): Promise<void> {
    this.chain = this.chain.then(() => writeFileAtomic(this.path, data, 0o600)).catch(this.onError);
    return this.chain;
  }

  /** resolves once every write asked for so far has finished */
  flush(): Promise<void> {
    return this.chain;
  }
}
