/**
 * `lockstep discover` exit codes (src/cli/exit-codes.ts): a missing or unreadable sysfs root is an error naming the
 * path (an empty inventory would read as "no devices"); partial problems keep exit 0 and are listed; --strict makes
 * any problem exit 1.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runBundle } from '../../support/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'discover-root-'));
const file = join(dir, 'a-file');
writeFileSync(file, '');

describe('lockstep discover: the sysfs root and problems', () => {
  it.each([
    [
      'a missing root',
      [join(dir, 'nope')],
      1,
      new RegExp(`^error: sysfs root ${join(dir, 'nope')} does not exist \\(--sysfs-root\\)\\n$`),
    ],
    ['a file as root', [file], 1, new RegExp(`^error: sysfs root ${file} is not a directory \\(--sysfs-root\\)\\n$`)],
    ['an empty tree: problems listed, exit 0', [dir], 0, /^$/],
    ['an empty tree with --strict', [dir, '--strict'], 1, /^error: 1 problem found \(--strict\)\n$/],
  ])('%s', (_name, args, code, stderr) => {
    const [root, ...rest] = args as string[];
    const r = runBundle('lockstep', [
      'discover',
      '--sysfs-root',
      root!,
      '--dev-root',
      dir,
      '--nvidia-smi',
      join(dir, 'no-smi'),
      ...rest,
    ]);
    expect(r.status).toBe(code);
    expect(r.stderr).toMatch(stderr);
    if (code === 0 || rest.includes('--strict')) expect(r.stdout).toContain('no PCI devices found');
  });
});
