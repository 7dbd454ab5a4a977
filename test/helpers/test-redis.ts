/**
 * The Redis a test file runs against: a single `redis-server` by default, or, with
 * REMEDIATOR_TEST_REDIS=cluster (vitest.redis-cluster.config.ts sets it), a Redis Cluster of three
 * primaries, so the same test files prove the same behaviour on a cluster.
 */
import { Cluster, Redis, type RedisOptions } from 'ioredis';
import { startRedisServer, type RedisServerHandle } from './redis-server.js';
import { startRedisCluster, type RedisClusterHandle, type RedisSentinelHandle } from './redis-topology.js';

export type TestRedisMode = 'standalone' | 'cluster' | 'sentinel';

export function testRedisMode(): TestRedisMode {
  return process.env.REMEDIATOR_TEST_REDIS === 'cluster' ? 'cluster' : 'standalone';
}

export interface TestRedis {
  readonly mode: TestRedisMode;
  /** The `redis:` keys that reach it, inside a YAML flow mapping (add `prefix`). */
  readonly yaml: string;
  /** A single server's handle (stop, start, url); undefined on a cluster. */
  readonly server?: RedisServerHandle;
  /** A new client; a Cluster client speaks the same commands (every test key is under one hash tag). */
  client(options?: RedisOptions): Redis;
  stop(): Promise<void>;
}

function fromServer(server: RedisServerHandle): TestRedis {
  return {
    mode: 'standalone',
    yaml: `url: '${server.url}'`,
    server,
    client: (options = {}) => new Redis(server.url, options),
    stop: () => server.stop(),
  };
}

function fromCluster(cluster: RedisClusterHandle): TestRedis {
  return {
    mode: 'cluster',
    yaml: `cluster: { nodes: [${cluster.nodes.map((n) => `'${n}'`).join(', ')}] }`,
    client: (options = {}) => new Cluster(cluster.nodes.map((n) => ({ host: '127.0.0.1', port: Number(n.split(':')[1]) })), { redisOptions: options }) as unknown as Redis,
    stop: () => cluster.stop(),
  };
}

export async function startTestRedis(mode: TestRedisMode = testRedisMode()): Promise<TestRedis> {
  return mode === 'cluster' ? fromCluster(await startRedisCluster({ primaries: 3 })) : fromServer(await startRedisServer());
}

/** Wraps a server the caller started (harness option `redis`). */
export function testRedisOf(server: RedisServerHandle): TestRedis {
  return fromServer(server);
}

/** A Sentinel set the test started (test/helpers/redis-topology.ts); stop() stops the whole set. */
export function testRedisOfSentinel(set: RedisSentinelHandle): TestRedis {
  const sentinels = set.sentinels.map((s) => ({ host: '127.0.0.1', port: Number(s.split(':')[1]) }));
  return {
    mode: 'sentinel',
    yaml: `sentinel: { name: ${set.name}, sentinels: [${set.sentinels.map((s) => `'${s}'`).join(', ')}] }`,
    client: (options = {}) => new Redis({ ...options, sentinels, name: set.name }),
    stop: () => set.stop(),
  };
}

/** KEYS on every primary: a Cluster client sends KEYS to one node only. */
export async function keysMatching(client: Redis, pattern: string): Promise<string[]> {
  const nodes: Redis[] = (client as unknown) instanceof Cluster ? (client as unknown as Cluster).nodes('master') : [client];
  return (await Promise.all(nodes.map((n) => n.keys(pattern)))).flat();
}
