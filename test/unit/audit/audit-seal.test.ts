import { createHmac } from 'node:crypto';
import { describe, expect, test } from 'vitest';
import { canonicalEntry, genesisSeal, nextSeal } from '../../../src/audit/audit-seal.js';
import { encodeAuditEntry, type AuditEntry } from '../../../src/audit/audit-entry.js';

const key = Buffer.from('0123456789abcdef0123456789abcdef', 'utf8');

describe('seal math', () => {
  test('seal_0 is HMAC-SHA256(key, "remediator-audit:" + prefix) in hex', () => {
    const expected = createHmac('sha256', key).update('remediator-audit:remediator').digest('hex');
    expect(genesisSeal(key, 'remediator')).toBe(expected);
    expect(genesisSeal(key, 'other')).not.toBe(expected);
  });

  test('seal_n is HMAC over the previous hex seal followed by the canonical entry', () => {
    const prev = genesisSeal(key, 'p');
    const canonical = '{"a":1}';
    const expected = createHmac('sha256', key).update(Buffer.from(prev + canonical, 'utf8')).digest('hex');
    expect(nextSeal(key, prev, canonical)).toBe(expected);
    expect(nextSeal(Buffer.from('another key of sixteen+', 'utf8'), prev, canonical)).not.toBe(expected);
  });
});

describe('canonicalEntry', () => {
  test('is independent of key order and of the writer\'s escaping (cjson writes \\/)', () => {
    const a = canonicalEntry(['e', '{"type":"run_status","to":"failed","at":"2024-01-01T00:00:00.000Z","path":"/api/v1"}']);
    const b = canonicalEntry(['e', '{"path":"\\/api\\/v1","at":"2024-01-01T00:00:00.000Z","to":"failed","type":"run_status"}']);
    expect(a).toBe(b);
    expect(a).toBe('{"at":"2024-01-01T00:00:00.000Z","path":"/api/v1","to":"failed","type":"run_status"}');
  });

  test('round-trips what encodeAuditEntry writes', () => {
    const entry: AuditEntry = { type: 'operator_action', at: '2024-01-01T00:00:00.000Z', actor: 'alice', action: 'pause', reason: 'maintenance é ✓' };
    expect(JSON.parse(canonicalEntry(['e', encodeAuditEntry(entry)]))).toEqual(entry);
  });

  test('seals unparseable or non-canonicalizable values as the JSON string of their raw text', () => {
    expect(canonicalEntry(['e', 'not json'])).toBe('"not json"');
    // RFC 8785 rejects lone surrogates; sealing must still make progress
    expect(canonicalEntry(['e', '{"x":"\\ud800"}'])).toBe(JSON.stringify('{"x":"\\ud800"}'));
    expect(canonicalEntry(['other', 'v'])).toBe(JSON.stringify(JSON.stringify(['other', 'v'])));
  });
});
