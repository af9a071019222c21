import { describe, expect, it } from 'vitest';
import { CliError, handleCliError, usageError } from '../../src/cli/errors.js';

function capture(err: unknown): { code: number; text: string } {
  let text = '';
  const code = handleCliError(err, (line) => {
    text += line;
  });
  return { code, text };
}

describe('handleCliError', () => {
  it('prints one error line and returns the carried exit code', () => {
    expect(capture(new CliError(3, 'no cluster'))).toEqual({ code: 3, text: 'error: no cluster\n' });
  });

  it('gives usage errors exit 2', () => {
    expect(capture(usageError('bad value')).code).toBe(2);
  });

  it('folds multi-line messages into one line and never doubles the prefix', () => {
    expect(capture(new Error('error: first\n  second')).text).toBe('error: first; second\n');
  });

  it('treats unknown throwables as failures with exit 1', () => {
    expect(capture('boom')).toEqual({ code: 1, text: 'error: boom\n' });
  });
});
