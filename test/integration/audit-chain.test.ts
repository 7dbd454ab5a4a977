import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { startRedisServer, type RedisServerHandle } from '../helpers/redis-server.js';
import { RedisAuditLog } from '../../src/audit/redis-audit-log.js';
import { AuditSealer } from '../../src/audit/audit-sealer.js';
import { verifyAuditChain } from '../../src/audit/verify-audit-chain.js';
import { auditKeys, type AuditKeys } from '../../src/audit/audit-keys.js';
import { AuditChainStore } from '../../src/audit/audit-chain-store.js';
import { rewriteStream, sampleAuditEntry as entry, type StreamRow as Row } from '../helpers/audit-stream.js';

const silent = pino({ level: 'silent' });
describe('audit chain: seal and verify', () => {
  let server: RedisServerHandle;
  let redis: Redis;
  let prefix: string;
  let keys: AuditKeys;
  let key: Buffer;
  let log: RedisAuditLog;
  let sealer: AuditSealer;

  beforeAll(async () => {
    server = await startRedisServer();
    redis = new Redis(server.url);
  });
  afterAll(async () => {
    redis.disconnect();
    await server.stop();
  });
  beforeEach(async () => {
    prefix = `t${randomBytes(4).toString('hex')}`;
    keys = auditKeys(prefix);
    key = randomBytes(32);
    log = new RedisAuditLog({ redis, prefix, logger: silent });
    sealer = new AuditSealer({ redis, prefix, key, logger: silent, pageSize: 64 });
    return async () => {
      await sealer.stop();
    };
  });

  async function appendMany(n: number, offset = 0): Promise<string[]> {
    const ids: string[] = [];
    for (let i = 0; i < n; i += 50) {
      ids.push(...(await log.append(Array.from({ length: Math.min(50, n - i) }, (_, k) => entry(offset + i + k)))));
    }
    return ids;
  }
  const verify = (extra: { pageSize?: number; checkpoint?: { id: string; seal: string } } = {}) => verifyAuditChain({ redis, prefix, key, pageSize: 37, ...extra });

  test('seals a few hundred entries in stream order and verifies them', async () => {
    const ids = await appendMany(300);
    expect(await sealer.sealOnce()).toBe(300);
    expect(await sealer.sealOnce()).toBe(0);

    const head = await redis.hgetall(keys.sealed);
    expect(head.lastId).toBe(ids[299]);
    expect(await redis.hget(keys.seals, ids[299]!)).toBe(head.lastSeal);
    expect(await redis.hlen(keys.seals)).toBe(300);
    expect(await verify()).toMatchObject({ ok: true, checked: 300, unsealed: 0 });
    expect(await verify({ pageSize: 1000 })).toMatchObject({ ok: true, checked: 300, unsealed: 0 });
  });

  test('entries after the sealed head are reported as unsealed, not as tampering', async () => {
    await appendMany(40);
    await sealer.sealOnce();
    await appendMany(7, 40);
    expect(await verify()).toMatchObject({ ok: true, checked: 40, unsealed: 7 });
    expect(await verifyAuditChain({ redis, prefix: `${prefix}-none`, key })).toMatchObject({ ok: true, checked: 0, unsealed: 0 });
  });

  test('entries written by Lua with cjson (different escaping and key order) seal and verify', async () => {
    await appendMany(3);
    await redis.eval(
      `return redis.call('XADD', KEYS[1], '*', 'e', cjson.encode({type = 'run_status', at = ARGV[1], actor = 'alertmanager', runId = 'r/1', to = 'cancelled', reason = 'alert resolved / gone ✓'}))`,
      1,
      keys.stream,
      new Date().toISOString(),
    );
    await redis.xadd(keys.stream, '*', 'e', 'garbage that is not JSON');
    await redis.xadd(keys.stream, '*', 'e', '{"type":"x","at":"","actor":"","s":"\\ud800"}');
    expect(await sealer.sealOnce()).toBe(6);
    expect(await verify()).toMatchObject({ ok: true, checked: 6, unsealed: 0 });
  });

  test('an edited entry is named (stream rewritten with different content)', async () => {
    const ids = await appendMany(120);
    await sealer.sealOnce();
    await rewriteStream(redis, keys.stream, (rows) => {
      const e = JSON.parse(rows[57]![1][1]!) as { reason: string };
      e.reason = 'nothing to see here';
      rows[57]![1][1] = JSON.stringify(e);
      return rows;
    });
    expect(await verify()).toMatchObject({ ok: false, checked: 57, firstBad: { id: ids[57], reason: expect.stringMatching(/does not match/) } });
  });

  test('a changed stored seal is named', async () => {
    const ids = await appendMany(80);
    await sealer.sealOnce();
    await redis.hset(keys.seals, ids[33]!, 'f'.repeat(64));
    expect(await verify()).toMatchObject({ ok: false, firstBad: { id: ids[33] } });
  });

  test('a deleted entry is caught at the entry after it', async () => {
    const ids = await appendMany(90);
    await sealer.sealOnce();
    await redis.xdel(keys.stream, ids[40]!);
    expect(await verify()).toMatchObject({ ok: false, checked: 40, firstBad: { id: ids[41] } });
  });

  test('deleting the newest sealed entries is caught through the head', async () => {
    const ids = await appendMany(30);
    await sealer.sealOnce();
    await redis.xdel(keys.stream, ids[28]!, ids[29]!);
    expect(await verify()).toMatchObject({ ok: false, checked: 28, firstBad: { id: ids[29], reason: expect.stringMatching(/no longer in the stream/) } });
  });

  test('an inserted entry (crafted id between two sealed ones) is named', async () => {
    await appendMany(50);
    await sealer.sealOnce();
    let crafted = '';
    await rewriteStream(redis, keys.stream, (rows) => {
      // ids are rewritten 1-0, 3-0, … leaving room to slip 2k-0 in between
      const spaced: Row[] = rows.map(([, f], i) => [`${2 * i + 1}-0`, f]);
      crafted = `${2 * 20 + 2}-0`;
      spaced.splice(21, 0, [crafted, ['e', JSON.stringify(entry(999))]]);
      return spaced;
    });
    // the seals are keyed by the old ids; re-key them as an attacker would
    const old = (await redis.hgetall(keys.seals)) as Record<string, string>;
    const rows = await redis.xrange(keys.stream, '-', '+');
    const oldIds = Object.keys(old).sort((a, b) => Number(a.split('-')[0]) - Number(b.split('-')[0]) || Number(a.split('-')[1]) - Number(b.split('-')[1]));
    const newIds = rows.map(([id]) => id).filter((id) => id !== crafted);
    await redis.del(keys.seals);
    await redis.hset(keys.seals, Object.fromEntries(newIds.map((id, i) => [id, old[oldIds[i]!]!])));
    await redis.hset(keys.sealed, 'lastId', newIds[newIds.length - 1]!);
    expect(await verify()).toMatchObject({ ok: false, checked: 21, firstBad: { id: crafted, reason: expect.stringMatching(/no seal/) } });

    // copying a neighbour's seal onto the inserted entry does not help
    await redis.hset(keys.seals, crafted, old[oldIds[21]!]!);
    expect(await verify()).toMatchObject({ ok: false, checked: 21, firstBad: { id: crafted } });
  });

  test('reordered entries are named', async () => {
    const ids = await appendMany(60);
    await sealer.sealOnce();
    await rewriteStream(redis, keys.stream, (rows) => {
      const a = rows[30]![1];
      rows[30]![1] = rows[31]![1];
      rows[31]![1] = a;
      return rows;
    });
    expect(await verify()).toMatchObject({ ok: false, checked: 30, firstBad: { id: ids[30] } });
  });

  test('a chain sealed with another key fails verify at its first entry', async () => {
    const ids = await appendMany(25);
    const other = new AuditSealer({ redis, prefix, key: randomBytes(32), logger: silent });
    await other.sealOnce();
    await other.stop();
    expect(await verify()).toMatchObject({ ok: false, checked: 0, firstBad: { id: ids[0] } });
    expect(await verifyAuditChain({ redis, prefix: `${prefix}x`, key })).toMatchObject({ ok: true });
  });

  test('a rolled-back head is caught, and the sealer refuses to re-seal over it', async () => {
    const ids = await appendMany(20);
    await sealer.sealOnce();
    // roll back the head, then edit an entry that now looks "unsealed"
    await redis.hset(keys.sealed, 'lastId', ids[9]!, 'lastSeal', (await redis.hget(keys.seals, ids[9]!))!);
    await rewriteStream(redis, keys.stream, (rows) => {
      rows[15]![1][1] = JSON.stringify(entry(4242));
      return rows;
    });
    expect(await verify()).toMatchObject({ ok: false, firstBad: { id: ids[10], reason: expect.stringMatching(/beyond the sealed head/) } });
    expect(await sealer.sealOnce()).toBe(0);
    expect((await redis.hgetall(keys.sealed)).lastId).toBe(ids[9]);
  });

  test('removing the newest entries with their seals and head shows against a logged checkpoint', async () => {
    const ids = await appendMany(20);
    await sealer.sealOnce();
    const checkpoint = { id: ids[19]!, seal: (await redis.hget(keys.sealed, 'lastSeal'))! };
    expect(await verify({ checkpoint })).toMatchObject({ ok: true });

    await redis.xdel(keys.stream, ...ids.slice(15));
    await redis.hdel(keys.seals, ...ids.slice(15));
    await redis.hset(keys.sealed, 'lastId', ids[14]!, 'lastSeal', (await redis.hget(keys.seals, ids[14]!))!);
    expect(await verify()).toMatchObject({ ok: true, checked: 15 });
    expect(await verify({ checkpoint })).toMatchObject({ ok: false, firstBad: { id: ids[19], reason: expect.stringMatching(/checkpoint/) } });
    expect(await verify({ checkpoint: { id: ids[10]!, seal: '0'.repeat(64) } })).toMatchObject({ ok: false, firstBad: { id: ids[10] } });
  });

  test('a missing head with seals present is tampering', async () => {
    const ids = await appendMany(5);
    await sealer.sealOnce();
    await redis.del(keys.sealed);
    expect(await verify()).toMatchObject({ ok: false, firstBad: { id: ids[0], reason: expect.stringMatching(/beyond the sealed head/) } });
  });

  test('a stale commit cannot fork the chain or move the head back', async () => {
    const ids = await appendMany(4);
    const store = new AuditChainStore(redis, prefix);
    expect(await store.commit(undefined, [[ids[0]!, 'a'.repeat(64)]])).toBe('OK');
    expect(await store.commit(undefined, [[ids[1]!, 'b'.repeat(64)]])).toBe('CONFLICT');
    expect(await store.commit(ids[0], [[ids[1]!, 'c'.repeat(64)]])).toBe('OK');
    expect(await store.commit(ids[0], [[ids[1]!, 'd'.repeat(64)]])).toBe('CONFLICT');
    expect(await store.head()).toEqual({ lastId: ids[1], lastSeal: 'c'.repeat(64) });
  });

  describe('retention', () => {
    test('trimming by count keeps the chain verifiable from the anchor', async () => {
      const ids = await appendMany(200);
      await sealer.sealOnce();
      const trimmed = await sealer.trim({ maxAgeMs: 365 * 86_400_000, maxEntries: 50 });
      // 151 removed + one audit_trimmed entry appended = 50
      expect(trimmed).toBe(151);
      expect(await redis.xlen(keys.stream)).toBe(50);
      const anchor = await redis.hgetall(keys.anchor);
      expect(anchor.id).toBe(ids[150]);
      expect(await redis.hexists(keys.seals, ids[150]!)).toBe(0);
      expect(await redis.hlen(keys.seals)).toBe(49);
      const last = (await log.read({ from: '-', count: 100 })).at(-1)!;
      expect(last.entry).toMatchObject({ type: 'audit_trimmed', actor: 'system', count: 151, anchorId: ids[150], reason: 'maxEntries' });

      expect(await verify()).toMatchObject({ ok: true, checked: 49, unsealed: 1 });
      await sealer.sealOnce();
      expect(await verify()).toMatchObject({ ok: true, checked: 50, unsealed: 0 });
      // nothing more to do: trimming again must not loop on its own audit_trimmed entries
      expect(await sealer.trim({ maxAgeMs: 365 * 86_400_000, maxEntries: 50 })).toBe(0);

      // tampering after the anchor is still caught
      await redis.xdel(keys.stream, ids[170]!);
      expect(await verify()).toMatchObject({ ok: false, firstBad: { id: ids[171] } });
    });

    test('trimming by age removes only sealed entries and never the head', async () => {
      const now = Date.now();
      // old entries with crafted ids two hours back, then current ones
      for (let i = 0; i < 30; i++) await redis.xadd(keys.stream, `${now - 7_200_000 + i}-0`, 'e', JSON.stringify(entry(i)));
      await sealer.sealOnce();
      const fresh = await appendMany(10, 30);
      const trimmed = await sealer.trim({ maxAgeMs: 3_600_000, maxEntries: 1_000_000 });
      // the head (the 30th old entry) stays: the head must always name a live entry
      expect(trimmed).toBe(29);
      expect(await verify()).toMatchObject({ ok: true, checked: 1, unsealed: 11 });
      await sealer.sealOnce();
      expect(await verify()).toMatchObject({ ok: true, checked: 12, unsealed: 0 });
      expect(await sealer.trim({ maxAgeMs: 3_600_000, maxEntries: 1_000_000 })).toBe(1);
      await sealer.sealOnce();
      const report = await verify();
      expect(report).toMatchObject({ ok: true, checked: 12, unsealed: 0 });
      expect((await redis.xrange(keys.stream, '-', '+', 'COUNT', 1))[0]![0]).toBe(fresh[0]);
    });

    test('the forged-trim attack (Redis write access, no key) is reported at the forgery', async () => {
      const ids = await appendMany(60);
      await sealer.sealOnce();
      // XTRIM the oldest entries, point the anchor at a stored seal, append a trim record: all without the key.
      await redis.xtrim(keys.stream, 'MINID', ids[21]!);
      await redis.hset(keys.anchor, 'id', ids[20]!, 'seal', (await redis.hget(keys.seals, ids[20]!))!);
      await redis.xadd(keys.stream, '*', 'e', JSON.stringify({ type: 'audit_trimmed', at: new Date().toISOString(), actor: 'system', count: 21, anchorId: ids[20], reason: 'maxEntries', lengthBefore: 1_000_000 }));
      // The sealer chains the forged record like any new entry; verify must still say no.
      await sealer.sealOnce();
      expect(await verify()).toMatchObject({ ok: false, checked: 0, firstBad: { id: ids[20], reason: expect.stringMatching(/not attested by the audit key/) } });
      // A mac copied from another anchor does not fit this one.
      await redis.hset(keys.anchor, 'mac', 'f'.repeat(64));
      expect(await verify()).toMatchObject({ ok: false, firstBad: { id: ids[20] } });
    });

    test('a crafted anchor (an earlier legitimate one replayed after a further trim) is caught', async () => {
      const ids = await appendMany(80);
      await sealer.sealOnce();
      await sealer.trim({ maxAgeMs: 365 * 86_400_000, maxEntries: 60 });
      const first = await redis.hgetall(keys.anchor);
      expect(await verify()).toMatchObject({ ok: true });
      await redis.xtrim(keys.stream, 'MINID', ids[40]!);
      expect(await verify()).toMatchObject({ ok: false, firstBad: { id: ids[40] } });
      expect(first.mac).toMatch(/^[0-9a-f]{64}$/);
    });

    test('verify checks each recorded trim was due under audit.maxAge / audit.maxEntries', async () => {
      await appendMany(80);
      await sealer.sealOnce();
      await sealer.trim({ maxAgeMs: 365 * 86_400_000, maxEntries: 50 });
      await sealer.sealOnce();
      expect(await verifyAuditChain({ redis, prefix, key, retention: { maxAgeMs: 365 * 86_400_000, maxEntries: 50 } })).toMatchObject({ ok: true });
      // Under a larger maxEntries that trim removed entries it had to keep.
      expect(await verifyAuditChain({ redis, prefix, key, retention: { maxAgeMs: 365 * 86_400_000, maxEntries: 500 } })).toMatchObject({
        ok: false,
        firstBad: { reason: expect.stringMatching(/not due under audit.maxEntries/) },
      });
    });

    test('a removed or moved anchor is caught', async () => {
      const ids = await appendMany(60);
      await sealer.sealOnce();
      await sealer.trim({ maxAgeMs: 365 * 86_400_000, maxEntries: 20 });
      const anchor = await redis.hgetall(keys.anchor);

      await redis.del(keys.anchor);
      expect(await verify()).toMatchObject({ ok: false, firstBad: { id: ids[41] } });

      // moving the anchor forward (silently trimming more) needs the key to attest it
      await redis.xtrim(keys.stream, 'MINID', ids[46]!);
      await redis.hset(keys.anchor, 'id', ids[45]!, 'seal', (await redis.hget(keys.seals, ids[45]!))!);
      expect(await verify()).toMatchObject({ ok: false, firstBad: { id: ids[45], reason: expect.stringMatching(/not attested/) } });
      expect(anchor.id).toBe(ids[40]);
    });
  });
});
