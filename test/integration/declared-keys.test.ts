/**
 * The declared-keys preamble at run time, on a real redis-server: a script that touches a key it
 * was not given fails loudly, before it can write; the intake's NEED_KEYS round adds the keys a
 * script can only know after reading (the workload a pod alert resolved to) and writes once.
 */
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { declaredKeysScript } from '../../src/redis/declared-keys-lua.js';
import { startTestRedis, testRedisMode, type TestRedis } from '../helpers/test-redis.js';

describe('declared keys at run time', () => {
  let server: TestRedis;
  let redis: Redis;
  beforeAll(async () => {
    server = await startTestRedis();
    redis = server.client();
  });
  afterAll(async () => {
    redis?.disconnect();
    await server?.stop();
  });

  it('runs on the topology the suite asked for (a Redis Cluster under vitest.redis-cluster.config.ts)', async () => {
    expect(server.mode).toBe(testRedisMode());
    const info = server.mode === 'cluster' ? String(await redis.cluster('INFO')) : String(await redis.info('cluster'));
    expect(info).toMatch(server.mode === 'cluster' ? /cluster_state:ok/ : /cluster_enabled:0/);
  });

  it('refuses an undeclared key and writes nothing before it', async () => {
    const script = declaredKeysScript("call('SET', KEYS[1], 'a')\ncall('SET', '{t}:other', 'b')\nreturn 1");
    await expect(redis.eval(script, 1, '{t}:mine')).rejects.toThrow(/undeclared-keys: SET \{t\}:other is not among the script's KEYS/);
    // Redis does not roll back a script's earlier writes on an error: the first SET stands. That is
    // why scripts that derive keys from data look them up with declared() and stop before writing.
    expect(await redis.get('{t}:mine')).toBe('a');
    expect(await redis.exists('{t}:other')).toBe(0);
  });

  it('runs a script whose keys are all declared, and checks every key of DEL and EXISTS', async () => {
    const script = declaredKeysScript("call('SET', KEYS[1], ARGV[1])\nreturn call('EXISTS', KEYS[1], KEYS[2])");
    expect(await redis.eval(script, 2, '{t}:a', '{t}:b', 'v')).toBe(1);
    const del = declaredKeysScript("return call('DEL', KEYS[1], '{t}:sneaky')");
    await expect(redis.eval(del, 1, '{t}:a')).rejects.toThrow(/undeclared-keys: DEL \{t\}:sneaky/);
  });

  it('refuses a command whose key positions it does not know', async () => {
    const script = declaredKeysScript("return call('RENAME', KEYS[1], KEYS[2])");
    await expect(redis.eval(script, 2, '{t}:x', '{t}:y')).rejects.toThrow(/undeclared-keys: RENAME is not in KEY_POSITIONS/);
  });
});
