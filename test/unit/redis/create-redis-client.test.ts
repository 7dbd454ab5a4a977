import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cluster, type Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { createRedisClient, describeRedis } from '../../../src/redis/create-redis-client.js';

/**
 * What each configured key becomes in the client (the topologies themselves are exercised against
 * real servers: test/integration/redis-sentinel-failover.test.ts and `npm run test:cluster`).
 * Clients point at closed ports and are disconnected at once.
 */
describe('createRedisClient', () => {
  const dir = mkdtempSync(join(tmpdir(), 'remediator-redis-client-'));
  const file = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };
  const clients: Redis[] = [];
  const keep = (c: Redis) => {
    c.on('error', () => undefined);
    clients.push(c);
    return c;
  };
  afterEach(() => {
    for (const c of clients.splice(0)) c.disconnect();
  });

  it('sentinel: password and sentinel password from their files (trimmed), TLS to both, master role, fail-fast commands', () => {
    const c = keep(
      createRedisClient(
        { mode: 'sentinel', name: 'mymaster', sentinels: ['127.0.0.1:1', '[::1]:2'], passwordFile: file('pw', 'data-secret\n'), sentinelPasswordFile: file('spw', 'sentinel-secret\n'), tls: { insecureSkipVerify: false, caFile: file('ca.pem', 'CA') } },
        'command',
        'remediator-api',
      ),
    );
    const o = c.options as Record<string, any>;
    expect(o).toMatchObject({ name: 'mymaster', role: 'master', password: 'data-secret', sentinelPassword: 'sentinel-secret', enableTLSForSentinelMode: true, enableOfflineQueue: false, maxRetriesPerRequest: 1, connectionName: 'remediator-api' });
    expect(o.sentinels).toEqual([{ host: '127.0.0.1', port: 1 }, { host: '::1', port: 2 }]);
    expect(String(o.tls.ca)).toBe('CA');
    expect(o.tls.rejectUnauthorized).toBe(true);
    expect(o.failoverDetector).toBeFalsy();
  });

  it('cluster: a Cluster client over the seed nodes, password in every node connection; blocking connections wait out outages', () => {
    const c = keep(createRedisClient({ mode: 'cluster', nodes: ['127.0.0.1:1', '127.0.0.1:2'], passwordFile: file('cpw', 'cluster-secret') }, 'blocking', 'remediator-worker'));
    expect((c as unknown) instanceof Cluster).toBe(true);
    const o = (c as unknown as Cluster).options;
    expect(o.redisOptions).toMatchObject({ password: 'cluster-secret', maxRetriesPerRequest: null, connectionName: 'remediator-worker' });
    expect(o.scaleReads).toBe('master');
  });

  it('a password file that cannot be read is a start-up error naming the file, not an unauthenticated client', () => {
    const missing = join(dir, 'nope');
    expect(() => createRedisClient({ mode: 'cluster', nodes: ['127.0.0.1:1'], passwordFile: missing }, 'command', 'x')).toThrow(`cannot read the Redis password file ${missing}: ENOENT`);
  });

  it('describes each topology without a password', () => {
    expect(describeRedis({ mode: 'standalone', url: 'redis://:hunter2@redis:6379/0' })).toBe('redis://:***@redis:6379/0');
    expect(describeRedis({ mode: 'sentinel', name: 'm', sentinels: ['a:1', 'b:2'], passwordFile: '/x' })).toBe('sentinel m via a:1,b:2');
    expect(describeRedis({ mode: 'cluster', nodes: ['a:1'] })).toBe('cluster via a:1');
  });
});
