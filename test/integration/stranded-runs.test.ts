import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes, randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { Queue, UnrecoverableError, Worker } from 'bullmq';
import { startRedisServer, type RedisServerHandle } from '../helpers/redis-server.js';
import { SCENARIOS, startInProcess, startRun, startScenarioSim, waitTerminal, writeRigConfig } from '../helpers/fault-rig.js';
import { RedisKeys } from '../../src/engine/redis-keys.js';
import { pollUntil } from '../helpers/sim-helpers.js';
import { QUEUE_NAME } from '../../src/queue/run-queue.js';
import type { Remediator, Role } from '../../src/composition-root.js';
import type { Run, RunStatus } from '../../src/domain/run.js';
import type { SimCluster } from '../../src/sim/sim-cluster.js';

const MAX_QUEUE_AGE_S = 3;

/**
 * No run is left behind (README "How an alert becomes an action"): runs forced into each stranded state end terminal, with a
 * reason, within the sweeper's bound (maxQueueAge, or one sweep, plus the sweep interval).
 */
describe('the sweeper ends stranded runs', () => {
  let redis: RedisServerHandle;
  let sim: SimCluster;
  let direct: Redis;
  const started: Remediator[] = [];

  beforeAll(async () => {
    redis = await startRedisServer();
    sim = await startScenarioSim(SCENARIOS['scale-replicas']!);
    direct = new Redis(redis.url);
  });

  afterEach(async () => {
    await Promise.all(started.splice(0).map((p) => p.stop()));
  });

  afterAll(async () => {
    direct?.disconnect();
    await sim?.close();
    await redis?.stop();
  });

  async function rig(...roles: Role[]): Promise<{ keys: RedisKeys; processes: Remediator[] }> {
    const prefix = `z${randomBytes(4).toString('hex')}`;
    const config = writeRigConfig({ simUrl: sim.url, redisUrl: redis.url, prefix, guards: { maxQueueAge: `${MAX_QUEUE_AGE_S}s` } });
    const processes: Remediator[] = [];
    for (const role of roles) processes.push(await startInProcess(config, role));
    started.push(...processes);
    return { keys: new RedisKeys(prefix), processes };
  }

  /** A run record as the intake would have written it, in the given state, without a job. */
  async function forceRun(keys: RedisKeys, status: RunStatus, extra: Partial<Run> = {}): Promise<string> {
    const id = randomUUID();
    const now = Date.now();
    const run: Run = {
      id,
      status,
      changed: false,
      dryRun: false,
      playbook: 'scale-replicas',
      params: { namespace: 'ml', kind: 'Deployment', name: 'web', step: 1, minReplicas: 1, maxReplicas: 6 },
      target: 'deployment/ml/web',
      trigger: { source: 'manual', operator: 'alice', reason: 'stranded-runs test' },
      steps: [],
      attempts: status === 'running' ? 1 : 0,
      createdAt: new Date(now).toISOString(),
      ...extra,
    };
    await direct.multi().hset(keys.run(id), 'doc', JSON.stringify(run), 'status', status).zadd(keys.runs, now, id).zadd(keys.live, now, id).exec();
    return id;
  }

  it('queued, and no worker at all: expired after maxQueueAge', async () => {
    const { processes } = await rig('api');
    const t0 = Date.now();
    const run = await waitTerminal(processes[0]!, await startRun(processes[0]!, SCENARIOS['scale-replicas']!), 15_000);
    expect(run.status).toBe('expired');
    expect(run.reason).toMatch(/no worker started it within guards.maxQueueAge \(3s\) of being enqueued/);
    expect(Date.now() - t0).toBeLessThan(MAX_QUEUE_AGE_S * 1000 + 3000);
  });

  it('a backlog of queued runs that have their jobs is not read every sweep, and still expires after maxQueueAge', async () => {
    const { keys, processes } = await rig('api');
    const connection = new Redis(redis.url, { maxRetriesPerRequest: null });
    const queue = new Queue(QUEUE_NAME, { connection, prefix: keys.bullPrefix });
    const hgetalls = async () => Number(/cmdstat_hgetall:calls=(\d+)/.exec(await direct.info('commandstats'))?.[1] ?? 0);
    try {
      const ids: string[] = [];
      for (let i = 0; i < 300; i++) ids.push(await forceRun(keys, 'queued'));
      await queue.addBulk(ids.map((id) => ({ name: 'scale-replicas', data: { runId: id }, opts: { jobId: id } })));
      const before = await hgetalls();
      // Four sweeps (every 500 ms here) inside maxQueueAge: the runs' records need not be read.
      await new Promise((r) => setTimeout(r, 2000));
      expect(await hgetalls() - before).toBeLessThan(50);
      const ended = await pollUntil(async () => {
        const runs = await Promise.all(ids.map((id) => processes[0]!.runs.get(id)));
        return runs.every((r) => r?.status === 'expired') ? runs : undefined;
      }, 'every queued run to expire', 10_000);
      expect(ended).toHaveLength(300);
    } finally {
      await queue.close();
      connection.disconnect();
    }
  });

  it('approved long after it was created, and the enqueue lost: enqueued again and run', async () => {
    const { keys, processes } = await rig('api', 'worker');
    const hourAgo = new Date(Date.now() - 3_600_000).toISOString();
    const id = await forceRun(keys, 'queued', {
      createdAt: hourAgo,
      queuedAt: new Date().toISOString(),
      approval: { requiredBy: 'manualApproval', decision: 'approved', by: 'bob', reason: 'go', at: new Date().toISOString() },
    });
    const run = await waitTerminal(processes[0]!, id, 15_000);
    expect(run.status, run.reason).toBe('succeeded');
  });

  it('running, and its job removed: failed within a sweep', async () => {
    const { keys, processes } = await rig('api');
    const id = await forceRun(keys, 'running', { startedAt: new Date().toISOString() });
    const run = await waitTerminal(processes[0]!, id, 5000);
    expect(run.status).toBe('failed');
    expect(run.reason).toMatch(/queue job was removed outside Remediator/);
  });

  it('running, and its job failed by BullMQ outside the executor: failed with the job’s reason', async () => {
    const { keys, processes } = await rig('api');
    const id = await forceRun(keys, 'running', { startedAt: new Date().toISOString() });
    const connection = new Redis(redis.url, { maxRetriesPerRequest: null });
    const queue = new Queue(QUEUE_NAME, { connection, prefix: keys.bullPrefix });
    // A bare BullMQ worker fails the job without Remediator's executor: only the sweeper can end the run.
    const rogue = new Worker(QUEUE_NAME, async () => {
      throw new UnrecoverableError('poisoned job (simulated)');
    }, { connection, prefix: keys.bullPrefix });
    try {
      await queue.add('scale-replicas', { runId: id }, { jobId: id });
      const run = await waitTerminal(processes[0]!, id, 10_000);
      expect(run.status).toBe('failed');
      expect(run.reason).toMatch(/queue job failed outside the playbook: poisoned job \(simulated\)/);
    } finally {
      await rogue.close();
      await queue.close();
      connection.disconnect();
    }
  });

  it('the runs index follows the run records’ retention (runs.retention, 28d by default)', async () => {
    const { keys } = await rig('api');
    const day = 86_400_000;
    await direct.zadd(keys.runs, Date.now() - 29 * day, 'expired-run', Date.now() - 27 * day, 'kept-run');
    await pollUntil(async () => ((await direct.zscore(keys.runs, 'expired-run')) === null ? true : undefined), 'the sweeper to trim the index', 5000);
    expect(await direct.zscore(keys.runs, 'kept-run')).not.toBeNull();
  });

  it('running, and no worker holds its job: failed after maxQueueAge', async () => {
    const { keys, processes } = await rig('api');
    const id = await forceRun(keys, 'running', { startedAt: new Date().toISOString() });
    // A job nobody works on (no worker process), as after every worker died.
    const connection = new Redis(redis.url, { maxRetriesPerRequest: null });
    const queue = new Queue(QUEUE_NAME, { connection, prefix: keys.bullPrefix });
    try {
      await queue.add('scale-replicas', { runId: id }, { jobId: id });
      const t0 = Date.now();
      const run = await waitTerminal(processes[0]!, id, 15_000);
      expect(run.status).toBe('failed');
      expect(run.reason).toMatch(/no worker resumed it within guards.maxQueueAge/);
      expect(Date.now() - t0).toBeLessThan(MAX_QUEUE_AGE_S * 1000 + 3000);
    } finally {
      await queue.close();
      connection.disconnect();
    }
  });
});
