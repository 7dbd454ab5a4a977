import { afterEach, describe, expect, test } from 'vitest';
import { Redis } from 'ioredis';
import { freePort, startRedisServer, type RedisServerHandle } from '../helpers/redis-server.js';
import { retryUntil } from '../helpers/sim-helpers.js';

describe('startRedisServer', () => {
  const cleanup: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn();
  });

  test('answers, goes down on stop, comes back empty on the same port on start', async () => {
    const server: RedisServerHandle = await startRedisServer();
    cleanup.push(() => server.stop());
    const redis = new Redis(server.url, { maxRetriesPerRequest: 1, retryStrategy: () => 20 });
    redis.on('error', () => {}); // refused connections while the server is down are expected
    cleanup.push(() => redis.disconnect());

    expect(await redis.ping()).toBe('PONG');
    await redis.set('k', 'v');

    await server.stop();
    await expect(redis.get('k')).rejects.toThrow();

    await server.start();
    expect(server.url).toBe(`redis://127.0.0.1:${server.port}`);
    // persistence is off, so the restarted server is empty
    expect(await retryUntil(() => redis.get('k'))).toBeNull();

    await server.stop();
    await server.stop(); // idempotent
  });

  test('honours an explicit port', async () => {
    const port = await freePort();
    const server = await startRedisServer({ port });
    cleanup.push(() => server.stop());
    expect(server.port).toBe(port);
    const redis = new Redis(server.url);
    cleanup.push(() => redis.disconnect());
    expect(await redis.ping()).toBe('PONG');
  });
});
