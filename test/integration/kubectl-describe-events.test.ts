import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { startRedisServer, type RedisServerHandle } from '../helpers/redis-server.js';
import { SCENARIOS, startInProcess, startRun, startScenarioSim, waitTerminal, writeRigConfig } from '../helpers/fault-rig.js';
import { kubectl, kubectlEnv, type KubectlEnv } from '../helpers/sim-helpers.js';
import type { Remediator } from '../../src/composition-root.js';
import type { SimCluster } from '../../src/sim/sim-cluster.js';

/**
 * `kubectl describe` lists an object's Events by a field selector that includes the object's uid
 * (DESIGN §2, Marks): Events without `involvedObject.uid` show as `Events: <none>`.
 */
describe('kubectl describe shows the Remediation Events', () => {
  let redis: RedisServerHandle;
  let sim: SimCluster;
  let main: Remediator;
  let env: KubectlEnv;

  beforeAll(async () => {
    redis = await startRedisServer();
    sim = await startScenarioSim(SCENARIOS['drain-gpu-node']!);
    main = await startInProcess(writeRigConfig({ simUrl: sim.url, redisUrl: redis.url, prefix: `e${randomBytes(4).toString('hex')}` }), 'all');
    env = kubectlEnv(sim);
    for (const name of ['drain-gpu-node', 'scale-replicas']) {
      const run = await waitTerminal(main, await startRun(main, SCENARIOS[name]!));
      expect(run.status, run.reason).toBe('succeeded');
    }
  });

  afterAll(async () => {
    env?.dispose();
    await main?.stop();
    await sim?.close();
    await redis?.stop();
  });

  it('kubectl describe node lists the cordon and drain Events', async () => {
    const out = await kubectl(env, ['describe', 'node', 'gpu-a']);
    expect(out.code, out.stderr).toBe(0);
    const events = out.stdout.slice(out.stdout.indexOf('Events:'));
    expect(events).toMatch(/Normal\s+RemediationCordon\s+.*remediator\s+cordoned node gpu-a/);
    expect(events).toMatch(/Normal\s+RemediationDrain\s+.*evicting 2 pods from node gpu-a/);
  });

  it('kubectl describe deployment lists the scale Event', async () => {
    const out = await kubectl(env, ['-n', 'ml', 'describe', 'deployment', 'web']);
    expect(out.code, out.stderr).toBe(0);
    expect(out.stdout.slice(out.stdout.indexOf('Events:'))).toMatch(/Normal\s+RemediationScale\s+.*scaled deployment\/ml\/web from 3 to 4/);
  });
});
