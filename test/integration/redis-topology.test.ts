import { existsSync } from 'node:fs';
import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Cluster, Redis } from 'ioredis';
import {
  startRedisCluster,
  startRedisSentinelSet,
  type RedisClusterHandle,
  type RedisSentinelHandle,
} from '../helpers/redis-topology.js';
import { retryUntil } from '../helpers/sim-helpers.js';


function hostPort(addr: string): { host: string; port: number } {
  const [host, port] = addr.split(':');
  return { host: host!, port: Number(port) };
}

/** No process of the handle is left running, and no temp dir is left behind. */
function expectAllGone(processes: readonly ChildProcess[], dirs: readonly string[]): void {
  expect(processes.length).toBeGreaterThan(0);
  for (const child of processes) {
    expect(child.exitCode !== null || child.signalCode !== null, `pid ${child.pid} still running`).toBe(true);
    expect(() => process.kill(child.pid!, 0), `pid ${child.pid} still exists`).toThrow();
  }
  for (const dir of dirs) expect(existsSync(dir), `${dir} left behind`).toBe(false);
}

describe('startRedisCluster', () => {
  let cluster: RedisClusterHandle | undefined;
  let client: Cluster | undefined;

  beforeAll(async () => {
    cluster = await startRedisCluster();
    client = new Cluster(cluster.nodes.map(hostPort));
  }, 60_000);

  afterAll(async () => {
    client?.disconnect();
    if (!cluster) return;
    await cluster.stop();
    await cluster.stop(); // idempotent
    expectAllGone(cluster.processes, cluster.dirs);
  });

  test('three primaries on loopback, the slots split between them', async () => {
    expect(cluster!.nodes).toHaveLength(3);
    expect(cluster!.nodes).toEqual(cluster!.ports.map((p) => `127.0.0.1:${p}`));
    const direct = new Redis({ host: '127.0.0.1', port: cluster!.ports[0]! });
    try {
      const slots = (await direct.call('CLUSTER', 'SLOTS')) as [number, number, [string, number]][];
      expect(slots.map(([, , [host, port]]) => `${host}:${port}`).sort()).toEqual([...cluster!.nodes].sort());
      expect(slots.reduce((n, [first, last]) => n + last - first + 1, 0)).toBe(16_384);
    } finally {
      direct.disconnect();
    }
  });

  test('a Cluster client sets and gets keys spread over every primary', async () => {
    const keys = Array.from({ length: 30 }, (_, i) => `key:${i}`);
    for (const k of keys) expect(await client!.set(k, `v-${k}`)).toBe('OK');
    for (const k of keys) expect(await client!.get(k)).toBe(`v-${k}`);

    const slots = new Set(await Promise.all(keys.map((k) => client!.cluster('KEYSLOT', k))));
    expect(slots.size).toBeGreaterThan(1);
    // every primary holds some of them: the client really followed the slot map
    const sizes = await Promise.all(client!.nodes('master').map((n) => n.dbsize()));
    expect(sizes).toHaveLength(3);
    for (const size of sizes) expect(size).toBeGreaterThan(0);
  });

  test('multi-key commands on one {tag} and an EVAL with declared keys', async () => {
    expect(await client!.mset('{user:1}:name', 'ada', '{user:1}:role', 'admin')).toBe('OK');
    expect(await client!.mget('{user:1}:name', '{user:1}:role')).toEqual(['ada', 'admin']);

    const result = await client!.eval(
      "redis.call('SET', KEYS[1], ARGV[1]); return redis.call('INCRBY', KEYS[2], ARGV[2])",
      2,
      '{order:7}:status',
      '{order:7}:count',
      'paid',
      5,
    );
    expect(result).toBe(5);
    expect(await client!.get('{order:7}:status')).toBe('paid');
  });
});

describe('startRedisSentinelSet', () => {
  let set: RedisSentinelHandle | undefined;
  let client: Redis | undefined;

  beforeAll(async () => {
    set = await startRedisSentinelSet();
    client = new Redis({ sentinels: set.sentinels.map(hostPort), name: set.name });
    client.on('error', () => {}); // refused connections to the dead primary are expected
  }, 60_000);

  afterAll(async () => {
    client?.disconnect();
    if (!set) return;
    await set.stop();
    await set.stop(); // idempotent
    expectAllGone(set.processes, set.dirs);
  });

  test('a sentinel client survives a failover: the acknowledged write is read back from the new primary', async () => {
    expect(set!.name).toBe('mymaster');
    expect(set!.sentinels).toHaveLength(3);
    const oldPrimary = await set!.primaryPort();

    expect(await client!.set('before-failover', 'kept')).toBe('OK');
    expect(await client!.call('WAIT', 1, 1000)).toBeGreaterThanOrEqual(1);

    expect(await set!.killPrimary()).toBe(oldPrimary);
    const newPrimary = await set!.waitForFailover(oldPrimary, 30_000);
    expect(newPrimary).not.toBe(oldPrimary);
    expect(await set!.primaryPort()).toBe(newPrimary);

    // The same client instance finds the new primary through the sentinels by itself.
    expect(await retryUntil(() => client!.get('before-failover'), 15_000)).toBe('kept');
    expect(await retryUntil(() => client!.set('after-failover', 'written'), 15_000)).toBe('OK');

    const direct = new Redis({ host: '127.0.0.1', port: newPrimary });
    try {
      expect(await direct.get('after-failover')).toBe('written');
      expect(await direct.get('before-failover')).toBe('kept');
      // the surviving replica was re-pointed at the new primary and has the write too
      expect(await direct.call('WAIT', 1, 1000)).toBeGreaterThanOrEqual(1);
    } finally {
      direct.disconnect();
    }
  });
});
