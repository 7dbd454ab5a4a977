import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { startRedisServer, type RedisServerHandle } from '../helpers/redis-server.js';
import { RedisAuditLog } from '../../src/audit/redis-audit-log.js';
import { AuditSealer } from '../../src/audit/audit-sealer.js';
import type { AuditEntry } from '../../src/audit/audit-entry.js';
import { RetryableError } from '../../src/domain/errors.js';

function captureLogger(): { logger: pino.Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) lines.push(JSON.parse(line) as Record<string, unknown>);
      cb();
    },
  });
  return { logger: pino({ level: 'info' }, sink), lines };
}

async function until<T>(fn: () => Promise<T | undefined>, what: string, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) {
      if (Date.now() > deadline) throw err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const at = '2024-05-01T12:00:00.000Z';
const entries: AuditEntry[] = [
  { type: 'run_created', at, actor: 'alertmanager', runId: 'r1', target: 'node/gpu-1', playbook: 'drain-gpu-node', rule: 'drain', source: 'alert', fingerprint: 'f1', alertname: 'GPUNodeOverheating', episode: 'ep1', params: { timeoutSeconds: 60 }, dryRun: false, status: 'queued' },
  { type: 'guard_blocked', at, actor: 'alertmanager', runId: 'r2', guard: 'cooldown', detail: 'node/gpu-1 is in cooldown', episode: 'ep2' },
  { type: 'run_status', at, actor: 'worker', runId: 'r1', from: 'queued', to: 'running' },
  { type: 'kube_mutation', at, actor: 'worker', runId: 'r1', action: 'cordon', object: 'node/gpu-1', method: 'PATCH', path: '/api/v1/nodes/gpu-1', dryRun: false, result: 'ok', before: { unschedulable: false }, after: { unschedulable: true } },
  { type: 'operator_action', at, actor: 'alice', action: 'pause', reason: 'maintenance window' },
  { type: 'auth_failed', at, actor: 'anonymous', client: '10.0.0.7', count: 3, reason: 'unknown token' },
  { type: 'alert_resolved', at, actor: 'alertmanager', fingerprint: 'f1', cancelled: ['r3'] },
];

describe('RedisAuditLog', () => {
  let server: RedisServerHandle;
  let redis: Redis;
  beforeAll(async () => {
    server = await startRedisServer();
    redis = new Redis(server.url);
  });
  afterAll(async () => {
    redis.disconnect();
    await server.stop();
  });

  test('appends every entry under {prefix}:audit as field e, logs each with audit: true, reads back in order', async () => {
    const prefix = `t${randomBytes(3).toString('hex')}`;
    const { logger, lines } = captureLogger();
    const log = new RedisAuditLog({ redis, prefix, logger });

    const ids = await log.append(entries);
    expect(ids).toHaveLength(entries.length);

    const raw = await redis.xrange(`{${prefix}}:audit`, '-', '+');
    expect(raw.map(([id]) => id)).toEqual(ids);
    expect(raw.map(([, fields]) => fields[0])).toEqual(entries.map(() => 'e'));
    expect(raw.map(([, fields]) => JSON.parse(fields[1]!))).toEqual(entries);

    expect(lines.filter((l) => l.audit === true).map((l) => [l.type, l.auditId, l.level])).toEqual(entries.map((e, i) => [e.type, ids[i], 30]));
    expect(lines.find((l) => l.type === 'kube_mutation')).toMatchObject({ object: 'node/gpu-1', after: { unschedulable: true } });

    const read = await log.read();
    expect(read.map((r) => r.entry)).toEqual(entries);
    expect(read.every((r) => r.seal === undefined)).toBe(true);

    const page1 = await log.read({ count: 3 });
    const page2 = await log.read({ after: page1[2]!.id, count: 3 });
    const fromThird = await log.read({ from: ids[2], count: 1 });
    expect([...page1, ...page2].map((r) => r.id)).toEqual(ids.slice(0, 6));
    expect(fromThird.map((r) => r.id)).toEqual([ids[2]]);
    expect(await log.append([])).toEqual([]);
  });

  test('read returns the seal once sealed, and reports foreign garbage as unreadable', async () => {
    const prefix = `t${randomBytes(3).toString('hex')}`;
    const logger = pino({ level: 'silent' });
    const log = new RedisAuditLog({ redis, prefix, logger });
    await log.append(entries.slice(0, 2));
    await redis.xadd(`{${prefix}}:audit`, '*', 'x', 'not an entry');
    const sealer = new AuditSealer({ redis, prefix, key: randomBytes(32), logger });
    expect(await sealer.sealOnce()).toBe(3);
    await sealer.stop();

    const read = await log.read();
    expect(read.map((r) => r.seal)).toEqual([expect.stringMatching(/^[0-9a-f]{64}$/), expect.stringMatching(/^[0-9a-f]{64}$/), expect.stringMatching(/^[0-9a-f]{64}$/)]);
    expect(read[2]!.entry).toMatchObject({ type: 'unreadable' });
  });

  test('logWritten logs entries a script wrote, without touching Redis', async () => {
    const prefix = `t${randomBytes(3).toString('hex')}`;
    const { logger, lines } = captureLogger();
    const log = new RedisAuditLog({ redis, prefix, logger });
    log.logWritten([entries[1]!]);
    expect(lines).toEqual([expect.objectContaining({ audit: true, type: 'guard_blocked', guard: 'cooldown', level: 30 })]);
    expect(await redis.exists(`{${prefix}}:audit`)).toBe(0);
  });

  test('append fails with a retryable error while Redis is down, and works once it is back', async () => {
    const own = await startRedisServer();
    const conn = new Redis(own.url, { enableOfflineQueue: false, maxRetriesPerRequest: 1, retryStrategy: () => 20 });
    conn.on('error', () => undefined);
    try {
      const log = new RedisAuditLog({ redis: conn, prefix: 'down', logger: pino({ level: 'silent' }) });
      // without an offline queue, commands fail until the connection is ready
      await until(async () => log.append([entries[0]!]), 'first append');
      await own.stop();
      await expect(log.append([entries[1]!])).rejects.toBeInstanceOf(RetryableError);
      await own.start();
      const ids = await until(async () => log.append([entries[2]!]), 'append after restart');
      expect(ids).toHaveLength(1);
      // persistence is off: only the entry written after the restart is there
      expect((await log.read()).map((r) => r.entry.type)).toEqual(['run_status']);
    } finally {
      conn.disconnect();
      await own.stop();
    }
  });
});
