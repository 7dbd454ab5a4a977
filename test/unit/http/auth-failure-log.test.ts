import { describe, expect, it } from 'vitest';
import { AuthFailureLog, BACKOFF_AFTER, IMMEDIATE_PER_WINDOW, MAX_TRACKED_CLIENTS } from '../../../src/http/auth-failure-log.js';

interface Written {
  client: string;
  count: number;
}

function setup() {
  let now = Date.parse('2026-12-07T10:00:00Z');
  const written: Written[] = [];
  const log = new AuthFailureLog(async (entries) => void written.push(...(entries as Written[])), 60_000, () => now);
  return { log, written, advance: (ms: number) => (now += ms) };
}

describe('AuthFailureLog', () => {
  it('writes a client’s first failure at once and the rest of its minute as one count', async () => {
    const { log, written, advance } = setup();
    for (let i = 0; i < 5; i++) log.failed('10.0.0.7', 'invalid token');
    expect(written).toEqual([expect.objectContaining({ client: '10.0.0.7', count: 1 })]);
    advance(60_000);
    await log.flush();
    expect(written.slice(1)).toEqual([expect.objectContaining({ client: '10.0.0.7', count: 4 })]);
    await log.stop();
  });

  it('a spray from many addresses: bounded entries and tracked clients, every failure counted', async () => {
    const { log, written } = setup();
    for (let i = 0; i < 5000; i++) log.failed(`127.1.${Math.floor(i / 250)}.${i % 250}`, 'invalid token');
    expect(log.trackedClients()).toBe(MAX_TRACKED_CLIENTS);
    expect(written).toHaveLength(IMMEDIATE_PER_WINDOW);
    await log.stop();
    expect(written.length).toBeLessThanOrEqual(IMMEDIATE_PER_WINDOW + MAX_TRACKED_CLIENTS + 1);
    expect(written.reduce((sum, e) => sum + e.count, 0)).toBe(5000);
    expect(written.at(-1)).toMatchObject({ client: '(other addresses)', count: 5000 - MAX_TRACKED_CLIENTS });
  });

  it('tells a client that keeps failing to back off until its minute ends', async () => {
    const { log, advance } = setup();
    for (let i = 0; i < BACKOFF_AFTER - 1; i++) log.failed('10.0.0.9', 'invalid token');
    expect(log.retryAfter('10.0.0.9')).toBeUndefined();
    log.failed('10.0.0.9', 'invalid token');
    expect(log.retryAfter('10.0.0.9')).toBe(60);
    advance(45_000);
    expect(log.retryAfter('10.0.0.9')).toBe(15);
    advance(15_000);
    expect(log.retryAfter('10.0.0.9')).toBeUndefined();
    expect(log.retryAfter('10.0.0.10')).toBeUndefined();
    await log.stop();
  });
});
