import { describe, expect, it } from 'vitest';
import { runBundle } from '../../support/cli.js';

// the health flags of `lockstep agent`: bad values are usage errors (exit 2) with a message naming the flag
describe('lockstep agent health flags', () => {
  it('refuses an --xid-ignore that is not a list of XID numbers', () => {
    const r = runBundle('lockstep', ['agent', '--node-name', 'n1', '--xid-ignore', '13,abc']);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('"13,abc" is not a comma-separated list of XID numbers');
  });

  it('refuses an --http-address without a port', () => {
    const r = runBundle('lockstep', ['agent', '--node-name', 'n1', '--http-address', '8080']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(
      /^error: option '--http-address <addr>' argument '8080' is invalid\. "8080" is not a listen address: expected \[host\]:port/,
    );
  });

  it('documents the health flags in --help', () => {
    const r = runBundle('lockstep', ['agent', '--help']);
    for (const f of [
      '--kmsg',
      '--state-dir',
      '--health-interval',
      '--link-stable-time',
      '--http-address',
      '--xid-ignore',
    ]) {
      expect(r.stdout).toContain(f);
    }
  });
});
