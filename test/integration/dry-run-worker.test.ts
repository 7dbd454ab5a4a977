import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { startRedisServer, type RedisServerHandle } from '../helpers/redis-server.js';
import { SCENARIOS, startInProcess, startRun, startScenarioSim, waitTerminal, writeRigConfig } from '../helpers/fault-rig.js';
import type { Remediator } from '../../src/composition-root.js';
import type { SimCluster } from '../../src/sim/sim-cluster.js';

/**
 * README "How an alert becomes an action"/§2: a run executes dry if it was created dry or the process executing it runs with
 * `dryRun: true`. An api that queues real runs and a worker configured dry share one Redis.
 */
describe('a dry-run worker executing runs a non-dry api queued', () => {
  let redis: RedisServerHandle;
  let sim: SimCluster;
  let api: Remediator;
  let worker: Remediator;

  beforeAll(async () => {
    redis = await startRedisServer();
    sim = await startScenarioSim(SCENARIOS['drain-gpu-node']!);
    SCENARIOS['restart-oom-pod']!.prepare?.(sim);
    const prefix = `d${randomBytes(4).toString('hex')}`;
    api = await startInProcess(writeRigConfig({ simUrl: sim.url, redisUrl: redis.url, prefix, dryRun: false }), 'api');
    worker = await startInProcess(writeRigConfig({ simUrl: sim.url, redisUrl: redis.url, prefix, dryRun: true }), 'worker');
  });

  afterAll(async () => {
    await worker?.stop();
    await api?.stop();
    await sim?.close();
    await redis?.stop();
  });

  it('sends no request without dryRun=All, and every run ends succeeded, dry, with its plan', async () => {
    const ids = await Promise.all(['drain-gpu-node', 'scale-replicas', 'restart-oom-pod', 'uncordon-node'].map((name) => startRun(api, SCENARIOS[name]!)));
    const runs = await Promise.all(ids.map((id) => waitTerminal(api, id)));
    for (const run of runs) {
      expect(run.status, `${run.playbook}: ${run.reason}`).toBe('succeeded');
      expect(run.dryRun).toBe(true);
      expect(run.changed).toBe(false);
      expect(run.reason).toMatch(/^dry run: /);
      expect(run.steps.length).toBeGreaterThan(0);
      expect(run.steps.every((s) => s.result === 'dry_run' && s.request.dryRun)).toBe(true);
    }
    const writes = sim.requests.filter((r) => r.method !== 'GET');
    expect(writes.length).toBeGreaterThan(0);
    expect(writes.filter((r) => !r.dryRun).map((r) => `${r.method} ${r.path}`)).toEqual([]);
  });
});
