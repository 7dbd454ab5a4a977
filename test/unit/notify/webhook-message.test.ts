import { createHmac, timingSafeEqual } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { NOTIFICATION_EVENTS } from '../../../src/engine/notification-sink.js';
import { signBody, webhookBody } from '../../../src/notify/webhook-message.js';
import { DETAILS, runFor } from '../../helpers/notification-runs.js';

/** What a receiver does: recompute the HMAC over the bytes it got and compare in constant time. */
function verify(secret: string, body: Buffer, header: string): boolean {
  const expected = Buffer.from(`sha256=${createHmac('sha256', secret).update(body).digest('hex')}`);
  const got = Buffer.from(header);
  return got.length === expected.length && timingSafeEqual(got, expected);
}

describe('webhook body', () => {
  for (const event of NOTIFICATION_EVENTS) {
    it(`${event}: {event, run, alert, link}, the run exactly as stored`, () => {
      const run = runFor(event);
      const link = `https://remediator.example.internal/ui/#/runs/${run.id}`;
      const detail = DETAILS[event];
      const body = webhookBody({ event, run, link, ...(detail ? { detail } : {}) });
      expect(body).toEqual({ event, run, alert: run.trigger.alert, link, ...(detail ? { detail } : {}) });
      expect(Object.keys(body).slice(0, 4)).toEqual(['event', 'run', 'alert', 'link']);
      // Round-trips through JSON unchanged: the receiver gets the API's run record.
      expect(JSON.parse(JSON.stringify(body))).toEqual(body);
    });
  }

  it('alert is null for a run without one', () => {
    const run = runFor('succeeded', { trigger: { source: 'manual', operator: 'alice', reason: 'test' } });
    expect(webhookBody({ event: 'succeeded', run, link: 'x' }).alert).toBeNull();
  });

  it('the signature is HMAC-SHA256 over the exact body bytes, and only those', () => {
    const secret = 's3cret-key';
    const body = Buffer.from(JSON.stringify(webhookBody({ event: 'failed', run: runFor('failed'), link: 'x' })), 'utf8');
    const header = signBody(secret, body);
    expect(header).toMatch(/^sha256=[0-9a-f]{64}$/);
    expect(verify(secret, body, header)).toBe(true);
    expect(verify('other-key', body, header)).toBe(false);
    const tampered = Buffer.from(body.toString('utf8').replace('"failed"', '"succeeded"'), 'utf8');
    expect(verify(secret, tampered, header)).toBe(false);
    // Non-ASCII text is signed as its UTF-8 bytes.
    const utf8 = Buffer.from('{"summary":"température élevée ✓"}', 'utf8');
    expect(verify(secret, utf8, signBody(secret, utf8))).toBe(true);
  });
});
