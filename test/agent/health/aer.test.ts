import { describe, expect, it } from 'vitest';
import { AerTracker, aerNonZero, parseAerTotal } from '../../../agent/health/aer.js';

// the layout of aer_dev_fatal as the kernel writes it (recorded in fixtures/sysfs/procfs__…ttar, all zero there)
const fatal = (n: number, dlp = 0) =>
  `Undefined 0\nDLP ${dlp}\nSDES 0\nTLP 0\nFCP 0\nCmpltTO 0\nCmpltAbrt 0\nUnxCmplt 0\nRxOF 0\nMalfTLP 0\nECRC 0\nUnsupReq 0\nACSViol 0\nUncorrIntErr 0\nBlockedTLP 0\nAtomicOpBlocked 0\nTLPBlockedErr 0\nPoisonTLPBlocked 0\nTOTAL_ERR_FATAL ${n}\n`;

describe('AER counters', () => {
  it('reads the TOTAL_ERR_* line and the non-zero counters', () => {
    expect(parseAerTotal(fatal(3, 3))).toBe(3);
    expect(parseAerTotal('TOTAL_ERR_NONFATAL 7\n')).toBe(7);
    expect(parseAerTotal('garbage')).toBeUndefined();
    expect(aerNonZero(fatal(3, 3))).toEqual({ DLP: 3 });
  });

  it('takes the first sample as baseline; a fatal rise is sticky until reset', () => {
    const t = new AerTracker(60_000);
    expect(t.observe({ fatal: 2, nonFatal: 0 }, 0)).toEqual({ state: 'healthy' });
    expect(t.observe({ fatal: 2, nonFatal: 0 }, 1000)).toEqual({ state: 'healthy' });
    expect(t.observe({ fatal: 3, nonFatal: 0, detail: { DLP: 1 } }, 2000)).toMatchObject({
      state: 'unhealthy',
      reason: 'aer-fatal',
    });
    expect(t.observe({ fatal: 3, nonFatal: 0 }, 10_000_000).reason).toBe('aer-fatal');
    t.reset();
    expect(t.observe({ fatal: 3, nonFatal: 0 }, 10_000_001)).toEqual({ state: 'healthy' });
  });

  it('a non-fatal rise is unhealthy until the counter has been quiet for quietMs', () => {
    const t = new AerTracker(5000);
    t.observe({ nonFatal: 0 }, 0);
    expect(t.observe({ nonFatal: 1 }, 1000)).toMatchObject({ state: 'unhealthy', reason: 'aer-nonfatal' });
    expect(t.observe({ nonFatal: 1 }, 5999).state).toBe('unhealthy');
    expect(t.observe({ nonFatal: 1 }, 6000).state).toBe('healthy');
    expect(t.observe({ nonFatal: 4 }, 7000).message).toContain('4 since the agent started');
  });
});
