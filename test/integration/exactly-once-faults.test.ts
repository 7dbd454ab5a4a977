import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { startRedisServer, type RedisServerHandle } from '../helpers/redis-server.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';
import { playbooks } from '../../playbooks/index.js';
import type { SimCluster } from '../../src/sim/sim-cluster.js';
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
} from '../helpers/fault-rig.js';

/**
 * Exactly-once effects (docs/playbooks.md), generated from the requests each playbook makes: a fault-free
 * run of every registered playbook records its mutating requests from the simulated cluster's
 * log; then, for each of those requests, a fresh run where the server applies it and (a) answers
 * 500, (b) never answers, (d) the worker's Redis connections are cut while it records the step.
 * Each faulted run must end like the fault-free one. Fault (c), the worker SIGKILLed, is in
 * exactly-once-worker-kill.test.ts (it needs real processes).
 */
describe('exactly-once effects when an answer is lost', () => {
  let redis: RedisServerHandle;
  let proxy: TcpProxy;
  const baselines = new Map<string, Outcome>();

  beforeAll(async () => {
    redis = await startRedisServer();
    proxy = await startTcpProxy({ host: '127.0.0.1', port: redis.port });
  });

  afterAll(async () => {
    await proxy?.close();
    await redis?.stop();
  });

  interface Attempt {
    result: Outcome;
    problems: string[];
  }

  async function runScenario(scenario: FaultScenario, fault?: (sim: SimCluster) => SimFault): Promise<Attempt> {
    const sim = await startScenarioSim(scenario);
    const names = uidNames(sim);
    // A short request timeout keeps "never answered" cheap; Redis goes through the proxy the test can cut.
    const config = writeRigConfig({ simUrl: sim.url, redisUrl: proxy.url(), prefix: `f${randomBytes(4).toString('hex')}`, requestTimeoutSeconds: 2 });
    const remediator = await startInProcess(config, 'all');
    try {
      if (fault) sim.injectFault(fault(sim));
      const id = await startRun(remediator, scenario);
      const run = await waitTerminal(remediator, id);
      const result = await outcome(sim, run, names);
      return { result, problems: [...repeatedWrites(sim), ...doubleEvictions(sim)] };
    } finally {
      await remediator.stop();
      await sim.close();
    }
  }

  function judge(label: string, base: Outcome, got: Attempt): string[] {
    const problems = got.problems.map((p) => `${label}: ${p}`);
    const { run } = got.result;
    if (run.status !== base.run.status || !run.reason) problems.push(`${label}: run ended ${run.status} (${run.reason ?? 'no reason'}), fault-free: ${base.run.status}`);
    const missing = base.objects.filter((o) => !got.result.objects.includes(o));
    const extra = got.result.objects.filter((o) => !base.objects.includes(o));
    if (missing.length + extra.length > 0) problems.push(`${label}: objects differ\n  want ${missing.join('\n  want ')}\n  got  ${extra.join('\n  got  ')}`);
    if (JSON.stringify(got.result.events) !== JSON.stringify(base.events)) {
      problems.push(`${label}: Events differ\n  fault-free ${base.events.join('\n             ')}\n  faulted    ${got.result.events.join('\n             ')}`);
    }
    return problems;
  }

  it('every registered playbook has a fault-free scenario', () => {
    expect(playbooks.map((p) => p.name).filter((name) => SCENARIOS[name] === undefined)).toEqual([]);
  });

  const faults: { kind: string; make: (target: { method: string; path: string; index: number }) => (sim: SimCluster) => SimFault }[] = [
    { kind: 'applied, then answered 500', make: (t) => () => faultOn(t, { answer: 'error' }) },
    { kind: 'applied, then never answered', make: (t) => () => faultOn(t, { answer: 'none' }) },
    { kind: "applied, then the worker's Redis connections cut while it records the step", make: (t) => () => faultOn(t, { answer: 'normal', afterApply: () => proxy.cut({ refuseMs: 300 }) }) },
  ];

  for (const playbook of playbooks.map((p) => p.name)) {
    describe(playbook, () => {
      it('fault-free run: records the mutating requests it makes', async () => {
        const scenario = SCENARIOS[playbook];
        expect(scenario, `no fault-free scenario for ${playbook} in test/helpers/fault-rig.ts`).toBeDefined();
        const { result, problems } = await runScenario(scenario!);
        expect(problems).toEqual([]);
        expect(result.run.status, result.run.reason).toBe('succeeded');
        expect(result.run.changed).toBe(true);
        expect(result.requests.length).toBeGreaterThan(0);
        baselines.set(playbook, result);
      });

      for (const fault of faults) {
        it(`each of its requests ${fault.kind}: ends as without the fault`, async () => {
          const base = baselines.get(playbook);
          expect(base, 'the fault-free run must pass first').toBeDefined();
          const list = requestList(base!.requests);
          const problems: string[] = [];
          for (const request of list) {
            const got = await runScenario(SCENARIOS[playbook]!, fault.make(request));
            const faulted = got.result.requests.filter((r) => r.fault !== undefined);
            if (faulted.length !== 1) problems.push(`${request.label}: the fault hit ${faulted.length} requests`);
            problems.push(...judge(request.label, base!, got));
          }
          expect(problems).toEqual([]);
        }, 240_000);
      }
    });
  }
});
