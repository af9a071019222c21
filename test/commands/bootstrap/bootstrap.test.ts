import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runBundle } from '../../support/cli.js';

describe('lockstep bootstrap', () => {
  it('says how to find the coordinator when nothing tells it (exit 2)', () => {
    const r = runBundle('lockstep', ['bootstrap', '--pod-name', 'api-7d9f8b-x2x4z'], { HOSTNAME: 'api-7d9f8b-x2x4z' });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(
      'error: cannot tell where the coordinator is: pass --leader-address (or LOCKSTEP_LEADER_ADDRESS), set LWS_LEADER_ADDRESS, or run in a StatefulSet/JobSet pod whose name ends in its ordinal (pod name: api-7d9f8b-x2x4z)',
    );
  });

  it('a --token-file that is a directory is its own one-line error, not "no token"', () => {
    const dir = mkdtempSync(join(tmpdir(), 'lockstep-token-'));
    const r = runBundle('lockstep', [
      'bootstrap',
      '--leader-address',
      '127.0.0.1',
      '--pod-name',
      'web-0',
      '--token-file',
      dir,
    ]);
    expect(r.status).toBe(2);
    expect(r.stderr).toBe(`error: --token-file ${dir} is a directory, not a token file\n`);
  });

  it('rejects a bad timeout as a usage error', () => {
    const r = runBundle('lockstep', ['bootstrap', '--timeout', 'soon']);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('"soon" is not a duration');
  });
});
