import { describe, expect, it } from 'vitest';
import { ReplayCache, type Replay } from '../../../src/engine/replay-cache.js';

/** MGET over a map, counting the calls. */
class FakeRedis {
  readonly data = new Map<string, string>();
  mgets = 0;
  async mget(keys: string[]): Promise<(string | null)[]> {
    this.mgets += 1;
    return keys.map((k) => this.data.get(k) ?? null);
  }
}

const replay = (answer: string, runs: Record<string, string>): Replay => ({
  answer: Buffer.from(answer),
  episodes: Object.keys(runs),
  runIds: Object.values(runs),
  rules: new Map([['r', Object.keys(runs).length]]),
  firing: Object.keys(runs).length,
});

function setup(max = 3): { redis: FakeRedis; cache: ReplayCache } {
  const redis = new FakeRedis();
  const cache = new ReplayCache(redis as never, (ep) => `{p}:ep:${ep}`, max);
  return { redis, cache };
}

describe('ReplayCache', () => {
  it('gives an entry back while every episode still names its run, with one MGET', async () => {
    const { redis, cache } = setup();
    redis.data.set('{p}:ep:e1', 'run-1');
    redis.data.set('{p}:ep:e2', 'run-2');
    cache.remember('d', replay('a', { e1: 'run-1', e2: 'run-2' }));
    expect((await cache.confirmed('d'))?.answer.toString()).toBe('a');
    expect(redis.mgets).toBe(1);
    expect(await cache.confirmed('unknown')).toBeUndefined();
    expect(redis.mgets).toBe(1);
  });

  it('drops the entry when an episode is gone (a run blocked at the worker gave it back; FLUSHALL)', async () => {
    const { redis, cache } = setup();
    redis.data.set('{p}:ep:e1', 'run-1');
    cache.remember('d', replay('a', { e1: 'run-1', e2: 'run-2' }));
    expect(await cache.confirmed('d')).toBeUndefined();
    expect(cache.peek('d')).toBeUndefined();
  });

  it('drops the entry when an episode names another run (evaluated again since)', async () => {
    const { redis, cache } = setup();
    redis.data.set('{p}:ep:e1', 'run-9');
    cache.remember('d', replay('a', { e1: 'run-1' }));
    expect(await cache.confirmed('d')).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it('is bounded in bytes too: big answers push the oldest out before the entry bound is reached, and the count it keeps is exact', async () => {
    const cache = new ReplayCache(new FakeRedis() as never, (ep) => ep, 1000, 11_000);
    const big = (d: string) => replay(d.padEnd(3000, '.'), { [`ep-${d}`]: `run-${d}` });
    for (const d of ['d1', 'd2', 'd3', 'd4']) cache.remember(d, big(d));
    // Each entry counts about 3,350 bytes: three fit in 11,000, the fourth pushed d1 out.
    expect(cache.size).toBe(3);
    expect(cache.peek('d1')).toBeUndefined();
    expect(cache.bytesHeld).toBeGreaterThan(9000);
    expect(cache.bytesHeld).toBeLessThanOrEqual(11_000);
    // Replacing an entry does not count it twice.
    cache.remember('d4', big('d4'));
    expect(cache.size).toBe(3);
    expect(cache.bytesHeld).toBeLessThanOrEqual(11_000);
  });

  it('is bounded: the oldest entry goes first, a remembered one becomes the newest', async () => {
    const { cache } = setup(3);
    for (const d of ['d1', 'd2', 'd3']) cache.remember(d, replay(d, { e: 'r' }));
    cache.remember('d1', replay('d1', { e: 'r' }));
    cache.remember('d4', replay('d4', { e: 'r' }));
    expect(cache.size).toBe(3);
    expect(cache.peek('d2')).toBeUndefined();
    expect(cache.peek('d1')).toBeDefined();
    expect(cache.peek('d4')).toBeDefined();
  });

  it('a Redis error is the caller’s (the webhook answers 503), the entry stays', async () => {
    const cache = new ReplayCache({ mget: async () => Promise.reject(new Error('Connection is closed.')) } as never, (ep) => ep);
    cache.remember('d', replay('a', { e1: 'run-1' }));
    await expect(cache.confirmed('d')).rejects.toThrow('Connection is closed');
    expect(cache.peek('d')).toBeDefined();
  });
});

describe('ReplayCache batching', () => {
  it('checks asked for in one turn of the event loop go out as one MGET, each getting its own answer', async () => {
    const redis = new FakeRedis();
    const cache = new ReplayCache(redis as never, (ep) => `{p}:ep:${ep}`);
    redis.data.set('{p}:ep:e1', 'run-1');
    redis.data.set('{p}:ep:e2', 'run-2');
    cache.remember('a', replay('a', { e1: 'run-1' }));
    cache.remember('b', replay('b', { e2: 'run-2', e3: 'run-3' }));
    cache.remember('c', replay('c', { e2: 'run-2' }));
    const [a, b, c] = await Promise.all([cache.confirmed('a'), cache.confirmed('b'), cache.confirmed('c')]);
    expect(redis.mgets).toBe(1);
    expect([a?.answer.toString(), b, c?.answer.toString()]).toEqual(['a', undefined, 'c']);
  });
});
