/**
 * `redis.minReplicasAcked: 1` on a primary whose replica is missing, then attached: the webhook
 * answers 503 within 2 s, the decision it recorded starts nothing (neither the request nor the
 * sweeper hands it to the queue while no replica confirms it), and once a replica is in sync the
 * same notification, retried as Alertmanager would, is a duplicate of that decision and acts once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixture, poll, startHarness, TOKENS, type Harness } from '../helpers/harness.js';
import { metricValue } from '../helpers/metrics-text.js';
import { startRedisServer, type RedisServerHandle } from '../helpers/redis-server.js';

describe('redis.minReplicasAcked: 1', () => {
  let primary: RedisServerHandle;
  let replica: RedisServerHandle | undefined;
  let h: Harness;
  beforeAll(async () => {
    primary = await startRedisServer();
    h = await startHarness({ redis: primary, redisExtra: 'minReplicasAcked: 1' });
  });
  afterAll(async () => {
    await h?.stop();
    await replica?.stop();
    await primary?.stop();
  });

  it('answers 503 while no replica confirms, starts nothing, then acts once when a replica is in sync', async () => {
    const body = fixture('firing-llm-high-latency-p95').body;
    const refused = await h.post(body);
    expect(refused.status).toBe(503);
    expect(refused.ms).toBeLessThan(2000);
    expect(refused.body.message).toMatch(/only 0 of the 1 replicas redis.minReplicasAcked asks for confirmed the decisions within 1000 ms; Alertmanager will retry/);

    // The decision is in Redis (a queued run), but no job: nothing may start it unconfirmed.
    const [runId] = await h.main.redis.zrange(h.main.keys.runs, 0, -1);
    expect(runId).toBeDefined();
    const created = Date.parse((await h.main.runs.get(runId!))!.createdAt);
    // Past the sweeper's 2 s grace for a queued run without a job, and several sweeps (every 200 ms).
    await poll(async () => (Date.now() - created > 3500 ? true : undefined), 10_000, 'the sweeper grace to pass');
    expect((await h.main.runs.get(runId!))!.status).toBe('queued');
    expect(await h.main.redis.exists(h.main.keys.job(runId!))).toBe(0);
    expect(h.sim.mutations()).toEqual([]);
    const metrics = await h.get('/metrics');
    expect(metricValue(metrics.text, 'remediator_redis_replica_ack_failures_total')).toBeGreaterThanOrEqual(1);
    expect((await h.get('/readyz')).body.checks.redisReplicaFence).toBe('ok');

    replica = await startRedisServer({ args: ['--replicaof', '127.0.0.1', String(primary.port), '--repl-diskless-load', 'on-empty-db'] });
    await poll(async () => (/slave0:.*state=online/.test(await h.main.redis.info('replication')) ? true : undefined), 20_000, 'the replica in sync');

    const accepted = await poll(async () => {
      const res = await h.post(body);
      return res.status === 200 ? res : undefined;
    }, 20_000, 'the retried notification accepted');
    expect(accepted.body.decisions[0]).toMatchObject({ decision: 'duplicate', runId });
    const run = await h.waitRun(runId!, undefined, 30_000);
    expect(run.status).toBe('succeeded');
    const scales = h.sim.requests.filter((r) => r.method === 'PATCH' && r.path.endsWith('/deployments/llm-api/scale') && r.status === 200);
    expect(scales).toHaveLength(1);
    expect((await h.get('/api/v1/runs?limit=10', TOKENS.viewer)).body.items).toHaveLength(1);
  });
});
