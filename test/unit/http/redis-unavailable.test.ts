import { describe, expect, it } from 'vitest';
import { isRedisUnavailable } from '../../../src/http/create-app.js';

describe('isRedisUnavailable (the webhook answers 503, so Alertmanager retries)', () => {
  it('counts a pipeline aborted by its connection closing (the fence SET + WAIT as a Sentinel primary dies)', () => {
    // ioredis's AbortError, as seen in redis-sentinel-failover.test.ts under load.
    const aborted = Object.assign(new Error('Command aborted due to connection close'), { name: 'AbortError', command: { name: 'wait', args: ['1', '1000'] } });
    expect(isRedisUnavailable(aborted)).toBe(true);
    expect(isRedisUnavailable(new Error('Connection is closed.'))).toBe(true);
    expect(isRedisUnavailable(new Error('READONLY You can\'t write against a read only replica.'))).toBe(true);
  });

  it('not an error of another kind', () => {
    expect(isRedisUnavailable(new Error('ERR wrong number of arguments'))).toBe(false);
    expect(isRedisUnavailable(new TypeError('x is undefined'))).toBe(false);
  });
});
