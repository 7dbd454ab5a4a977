/**
 * A verification whose next check job is lost (the process died between ending the run and
 * scheduling it) still ends: the sweeper's backstop makes the last check once the deadline has
 * passed, and only one process makes it. Real Redis; Prometheus is a small in-memory fake.
 */
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PromQuerier } from '../../src/clients/prometheus-client.js';
import type { Run } from '../../src/domain/run.js';
import { RedisKeys } from '../../src/engine/redis-keys.js';
import { RunStore } from '../../src/engine/run-store.js';
import { RunVerifier } from '../../src/engine/run-verifier.js';
import { Metrics } from '../../src/observability/metrics.js';
import { startRedisServer, type RedisServerHandle } from '../helpers/redis-server.js';

let server: RedisServerHandle;
let redis: Redis;
const keys = new RedisKeys('verify-recovery');

beforeAll(async () => {
  server = await startRedisServer();
  redis = new Redis(server.url);
});
afterAll(async () => {
  await redis?.quit();
  await server?.stop();
});

function succeededRun(id: string): Run {
  return {
    id,
    status: 'running',
    changed: true,
    dryRun: false,
    playbook: 'scale-replicas',
    params: {},
    target: 'deployment/ml/web',
    trigger: { source: 'alert', rule: 'latency', ruleConfig: { onResolved: 'cancel-pending', dryRun: false, verify: { withinMs: 1000, intervalMs: 500, silence: false, query: 'p95 > 2' } } },
    steps: [],
    attempts: 1,
    createdAt: new Date().toISOString(),
  };
}

describe('a verification whose check job was lost', () => {
  it('is ended by the sweeper after its deadline, once, with a real last check', async () => {
    let clock = Date.now();
    const now = () => clock;
    const runs = new RunStore(redis, keys);
    const metrics = new Metrics({ version: 't', playbooks: ['scale-replicas'], rules: ['latency'], defaultMetrics: false });
    const queries: string[] = [];
    const prometheus: PromQuerier = { query: async (q) => (queries.push(q), { resultType: 'vector', samples: [], empty: true }) };
    const lost: number[] = [];
    const make = () => new RunVerifier({ redis, keys, runs, prometheus, scheduler: { schedule: async (_id, check) => void lost.push(check) }, metrics, logger: pino({ level: 'silent' }), runLink: (id) => `/ui/#/runs/${id}`, now });
    const [a, b] = [make(), make()];

    const run = succeededRun('run-lost-verify');
    await redis.hset(keys.run(run.id), { status: 'running', doc: JSON.stringify(run) });
    // What the executor does when the run ends: the pending verification, written with the status.
    run.verification = a.pendingFor(run)!;
    expect(await runs.transition(run, ['running'], 'succeeded')).toBe('OK');
    expect(await redis.zscore(keys.verifying, run.id)).toBe(String(Date.parse(run.verification.deadline)));
    // ... and the process dies before `begin` schedules the first check: no job exists.

    expect(await a.finishOverdue(30_000)).toBe(0);
    clock += 1000 + 30_001;
    const [na, nb] = await Promise.all([a.finishOverdue(30_000), b.finishOverdue(30_000)]);
    expect(na + nb).toBe(2);
    const ended = (await runs.get(run.id))!;
    expect(ended.verification).toMatchObject({ result: 'resolved', detail: 'the query returns nothing', checks: 1 });
    expect(queries).toEqual(['p95 > 2']);
    expect(await redis.zcard(keys.verifying)).toBe(0);
    const counted = await metrics.registry.getSingleMetricAsString('remediator_verifications_total');
    expect(counted).toContain('remediator_verifications_total{playbook="scale-replicas",result="resolved"} 1');
    expect(lost).toEqual([]);
  });
});
