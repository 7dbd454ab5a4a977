import { describe, expect, test } from 'vitest';
import { compareStreamIds, nextStreamId, streamIdMs } from '../../../src/audit/stream-id.js';

describe('stream ids', () => {
  test('compare numerically, not as strings', () => {
    expect(compareStreamIds('9-0', '10-0')).toBe(-1);
    expect(compareStreamIds('10-2', '10-10')).toBe(-1);
    expect(compareStreamIds('10-10', '10-2')).toBe(1);
    expect(compareStreamIds('5-5', '5-5')).toBe(0);
    expect(compareStreamIds('18446744073709551615-1', '18446744073709551615-0')).toBe(1);
  });

  test('next id increments the sequence and carries into the milliseconds', () => {
    expect(nextStreamId('1700000000000-0')).toBe('1700000000000-1');
    expect(nextStreamId('1-18446744073709551615')).toBe('2-0');
  });

  test('milliseconds part', () => {
    expect(streamIdMs('1700000000123-7')).toBe(1700000000123);
  });
});
