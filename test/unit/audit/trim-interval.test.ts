import { describe, expect, it } from 'vitest';
import { trimIntervalFor } from '../../../src/audit/audit-sealer.js';

describe('trimIntervalFor', () => {
  it('applies retention every twentieth of maxAge, between 5 s and 10 min', () => {
    const every = (maxAgeMs: number) => trimIntervalFor({ maxAgeMs, maxEntries: 1_000_000 });
    expect(every(120_000)).toBe(6000); // 2m: the stream holds at most 2m6s of entries
    expect(every(60 * 60_000)).toBe(180_000);
    expect(every(90 * 86_400_000)).toBe(600_000); // the 90d default: every 10 min
    expect(every(10_000)).toBe(5000);
    expect(trimIntervalFor(undefined)).toBe(600_000);
  });
});
