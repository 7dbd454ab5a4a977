import { describe, expect, it } from 'vitest';
import { episodeKey } from '../../../src/alertmanager/episode-key.js';

const RULE = 'drain-overheated-gpu-nodes';
const FINGERPRINT = '1c9732799c8cbdc0'; // firing-gpu-node-overheating.json
const STARTS_AT = '2026-11-28T23:03:49.035Z';

describe('episodeKey', () => {
  it('is pinned: changing the derivation would re-run every live episode after an upgrade', () => {
    expect(episodeKey(RULE, FINGERPRINT, STARTS_AT)).toBe('ep-e6b62aee3b38edc98edbcbbda0c8dad9');
  });

  it('is stable for the same episode', () => {
    expect(episodeKey(RULE, FINGERPRINT, STARTS_AT)).toBe(episodeKey(RULE, FINGERPRINT, STARTS_AT));
  });

  it('is a short id BullMQ accepts: no ":" and never all digits', () => {
    const key = episodeKey(RULE, FINGERPRINT, STARTS_AT);
    expect(key).toMatch(/^ep-[0-9a-f]{32}$/);
    expect(key).not.toContain(':');
    expect(key).not.toMatch(/^\d+$/);
    // Even inputs made only of digits produce a prefixed key.
    expect(episodeKey('1', '2', '3')).toMatch(/^ep-[0-9a-f]{32}$/);
  });

  it('changes with each part of the identity', () => {
    const base = episodeKey(RULE, FINGERPRINT, STARTS_AT);
    expect(episodeKey('other-rule', FINGERPRINT, STARTS_AT)).not.toBe(base);
    expect(episodeKey(RULE, 'fc4f9b66e2284878', STARTS_AT)).not.toBe(base);
    // A new firing of the same alert (new startsAt) is a new episode.
    expect(episodeKey(RULE, FINGERPRINT, '2026-11-28T23:09:49.035Z')).not.toBe(base);
  });

  it('keeps the startsAt text verbatim: a different spelling is a different episode', () => {
    expect(episodeKey(RULE, FINGERPRINT, '2026-11-28T23:06:57.14Z')).not.toBe(episodeKey(RULE, FINGERPRINT, '2026-11-28T23:06:57.140Z'));
  });

  it('does not confuse parts that concatenate to the same text', () => {
    expect(episodeKey('ab', 'c', STARTS_AT)).not.toBe(episodeKey('a', 'bc', STARTS_AT));
  });
});
