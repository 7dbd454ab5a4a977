import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { freePort, startRedisServer, type RedisServerHandle } from '../helpers/redis-server.js';
import { killHard, senderOf, spawnWorker, waitWorkerReady, type WorkerProcess } from '../helpers/worker-processes.js';
import { playbooks } from '../../playbooks/index.js';
import type { Remediator } from '../../src/composition-root.js';
import type { SimFault } from '../../src/sim/sim-server.js';
import {
  SCENARIOS,
  doubleEvictions,
  faultOn,
  outcome,
  repeatedWrites,
  requestList,
  startInProcess,
  startRun,
  startScenarioSim,
  uidNames,
  waitTerminal,
  writeRigConfig,
  type FaultScenario,
  type Outcome,
  type RigConfig,
} from '../helpers/fault-rig.js';

/**
 * A lane: one simulated cluster port (a fresh cluster per scenario, same address), one in-process
 * api, and two worker processes of the real binary. The fault kills the worker that sent the
 * request right after the server applied it; the other worker must resume the run.
 */
class Lane {
  private readonly workers = new Set<WorkerProcess>();
  private api!: Remediator;
  private config!: RigConfig;
  private simPort = 0;

  constructor(private readonly redisUrl: string) {}

  async start(): Promise<void> {
    this.simPort = await freePort();
    this.config = writeRigConfig({ simUrl: `http://127.0.0.1:${this.simPort}`, redisUrl: this.redisUrl, prefix: `k${randomBytes(4).toString('hex')}` });
    this.api = await startInProcess(this.config, 'api');
  }

  async stop(): Promise<void> {
    await Promise.all([...this.workers].map(killHard));
    await this.api?.stop();
  }

  /** Two live workers, both ready (Redis and the simulated cluster reachable). */
  private async ensureWorkers(): Promise<void> {
    while (this.workers.size < 2) {
      const worker = await spawnWorker(this.config.path);
      this.workers.add(worker);
      void worker.exited.then(() => this.workers.delete(worker));
    }
    await Promise.all([...this.workers].map((w) => waitWorkerReady(w)));
  }

  /** The faulted request's sender dies with SIGKILL before it gets the answer. */
  private killSender = async (userAgent: string | undefined): Promise<void> => {
    const victim = senderOf(this.workers, userAgent);
    if (!victim) throw new Error(`no worker process of this lane sent the request (user agent ${userAgent})`);
    await killHard(victim);
  };

  async run(scenario: FaultScenario, target?: { method: string; path: string; index: number }): Promise<{ result: Outcome; problems: string[]; killed: boolean }> {
    const sim = await startScenarioSim(scenario, this.simPort);
    try {
      await this.ensureWorkers();
      const names = uidNames(sim);
      let killed = false;
      if (target) {
        const fault: SimFault = faultOn(target, {
          answer: 'none',
          afterApply: async (record) => {
            await this.killSender(record.userAgent);
            killed = true;
          },
        });
        sim.injectFault(fault);
      }
      const id = await startRun(this.api, scenario);
      const run = await waitTerminal(this.api, id, 90_000);
      const result = await outcome(sim, run, names);
      return { result, problems: [...repeatedWrites(sim), ...doubleEvictions(sim)], killed };
    } finally {
      await sim.close();
    }
  }
}

/**
 * Exactly-once effects, fault (c): for each mutating request of each playbook's fault-free run,
 * the worker that sent it is SIGKILLed right after the server applied it. Another worker process
 * resumes the run (after BullMQ's stall detection) and it must end like the fault-free run.
 */
describe('exactly-once effects when the worker is SIGKILLed right after the server applied a request', () => {
  let redis: RedisServerHandle;
  const lanes: Lane[] = [];

  beforeAll(async () => {
    redis = await startRedisServer();
    for (let i = 0; i < 2; i++) lanes.push(new Lane(redis.url));
    await Promise.all(lanes.map((l) => l.start()));
  }, 60_000);

  afterAll(async () => {
    await Promise.allSettled(lanes.map((l) => l.stop()));
    await redis?.stop();
  });

  it('every registered playbook: each request applied, then its worker killed, ends as without the fault', async () => {
    const missing = playbooks.map((p) => p.name).filter((name) => SCENARIOS[name] === undefined);
    expect(missing, 'playbooks without a fault-free scenario in test/helpers/fault-rig.ts').toEqual([]);

    // Fault-free runs first: they name the requests to fault.
    const jobs: { playbook: string; target: ReturnType<typeof requestList>[number] }[] = [];
    const baselines = new Map<string, Outcome>();
    for (const [i, p] of playbooks.entries()) {
      const base = await lanes[i % lanes.length]!.run(SCENARIOS[p.name]!);
      expect(base.problems).toEqual([]);
      expect(base.result.run.status, base.result.run.reason).toBe('succeeded');
      baselines.set(p.name, base.result);
      for (const target of requestList(base.result.requests)) jobs.push({ playbook: p.name, target });
    }

    const problems: string[] = [];
    const queue = [...jobs];
    await Promise.all(
      lanes.map(async (lane) => {
        for (let job = queue.shift(); job; job = queue.shift()) {
          const label = `${job.playbook} ${job.target.label}`;
          const base = baselines.get(job.playbook)!;
          const got = await lane.run(SCENARIOS[job.playbook]!, job.target);
          if (!got.killed) problems.push(`${label}: the fault never fired`);
          problems.push(...got.problems.map((p) => `${label}: ${p}`));
          const { run } = got.result;
          if (run.status !== base.run.status || !run.reason) problems.push(`${label}: run ended ${run.status} (${run.reason ?? 'no reason'})`);
          const missingObjects = base.objects.filter((o) => !got.result.objects.includes(o));
          if (missingObjects.length > 0) problems.push(`${label}: objects differ: ${missingObjects.join('; ')}`);
          if (JSON.stringify(got.result.events) !== JSON.stringify(base.events)) problems.push(`${label}: Events differ: ${got.result.events.join('; ')}`);
        }
      }),
    );
    expect(problems).toEqual([]);
    expect(jobs.length).toBeGreaterThanOrEqual(playbooks.length);
  }, 600_000);
});
