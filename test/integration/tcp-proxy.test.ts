import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedisServer, type RedisServerHandle } from '../helpers/redis-server.js';
import { pollUntil } from '../helpers/sim-helpers.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';

describe('test helper: TCP proxy in front of a real redis-server', () => {
  let redis: RedisServerHandle;
  let proxy: TcpProxy;

  beforeAll(async () => {
    redis = await startRedisServer();
    proxy = await startTcpProxy({ host: '127.0.0.1', port: redis.port });
  });
  afterAll(async () => {
    await proxy?.close();
    await redis?.stop();
  });

  it('passes commands through, then cuts the connection and refuses reconnects for the window', async () => {
    expect(proxy.url()).toBe(`redis://127.0.0.1:${proxy.port}`);
    expect(proxy.url('tcp')).toBe(`tcp://127.0.0.1:${proxy.port}`);
    const client = new Redis(proxy.url(), {
      enableOfflineQueue: false,
      // 0: a command caught in flight by the cut fails instead of being resent after reconnect.
      maxRetriesPerRequest: 0,
      retryStrategy: () => 20,
    });
    const errors: Error[] = [];
    client.on('error', (err: Error) => errors.push(err));
    try {
      await pollUntil(() => (client.status === 'ready' ? true : undefined), 'the client to connect through the proxy');
      await client.set('proxied', 'yes');
      expect(await client.get('proxied')).toBe('yes');
      expect(proxy.connections()).toBe(1);

      const cutAt = Date.now();
      await proxy.cut({ refuseMs: 500 });
      expect(proxy.connections()).toBe(0);
      await expect(client.get('proxied')).rejects.toThrow();

      const readyAt = await pollUntil(() => (client.status === 'ready' ? Date.now() : undefined), 'the client to reconnect');
      // The proxy accepts again only once the window is over, so this holds without slack.
      expect(readyAt - cutAt).toBeGreaterThanOrEqual(500);
      expect(await client.get('proxied')).toBe('yes');
      expect(proxy.connections()).toBe(1);
    } finally {
      client.disconnect();
    }
    await pollUntil(() => (proxy.connections() === 0 ? true : undefined), 'the proxy to see the client leave');
  });

  it('lets clients back in at once after a cut without a window, and close() ends everything', async () => {
    const other = await startTcpProxy({ host: '127.0.0.1', port: redis.port });
    const client = new Redis(other.url(), { enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: () => 20 });
    client.on('error', () => {});
    try {
      await pollUntil(() => (client.status === 'ready' ? true : undefined), 'the client to connect');
      await other.cut();
      await pollUntil(() => (client.status === 'ready' && other.connections() === 1 ? true : undefined), 'the client to reconnect');
      expect(await client.ping()).toBe('PONG');
      await other.close();
      expect(other.connections()).toBe(0);
      await pollUntil(() => (client.status !== 'ready' ? true : undefined), 'the client to notice the proxy closed');
    } finally {
      client.disconnect();
      await other.close();
    }
  });
});
