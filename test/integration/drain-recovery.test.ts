import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { killHard, senderOf, spawnWorker, waitWorkerReady, type WorkerProcess } from '../helpers/worker-processes.js';
import { doubleEvictions, repeatedWrites, SCENARIOS, startRun, startScenarioRig, waitTerminal, OPERATOR_TOKEN, type ScenarioRig } from '../helpers/fault-rig.js';
import { pollUntil } from '../helpers/sim-helpers.js';
import { RECOVERY_BOUND_MS } from '../../src/engine/claim-timing.js';
import type { Remediator } from '../../src/composition-root.js';
import type { SimCluster } from '../../src/sim/sim-cluster.js';

const cordons = (sim: SimCluster) =>
  sim.requests.filter((r) => r.method === 'PATCH' && r.path === '/api/v1/nodes/gpu-a' && !r.dryRun && (r.body as { spec?: { unschedulable?: boolean } } | undefined)?.spec?.unschedulable === true);

/** The drain scenario's rig with an in-process api and `count` worker processes of the binary. */
interface WorkerRig {
  sim: SimCluster;
  api: Remediator;
  workers: Set<WorkerProcess>;
  stop(): Promise<void>;
}

async function startWorkerRig(count: number): Promise<WorkerRig> {
  const rig = await startScenarioRig({ roles: ['api'] });
  const workers = new Set<WorkerProcess>();
  for (let i = 0; i < count; i++) workers.add(await spawnWorker(rig.config.path));
  await Promise.all([...workers].map((w) => waitWorkerReady(w)));
  return {
    sim: rig.sim,
    api: rig.main,
    workers,
    async stop() {
      await Promise.all([...workers].map(killHard));
      await rig.stop();
    },
  };
}

/**
 * SIGKILLs the worker that sends the first eviction, before it gets the answer, and then (up to
 * `workers` in all) each worker that takes the drain over, at its first request about the node or
 * its pods. The drain evicts in parallel, so a worker may have sent more before it dies: those are
 * applied and left unanswered too (it is gone).
 */
function killSenderOnEviction(rig: WorkerRig, workers: number, onKilled: () => void = () => undefined) {
  const doomed = new Set<string>();
  const aboutTheDrain = (r: { path: string }) => r.path.startsWith('/api/v1/nodes/') || /\/pods(\/|$)/.test(r.path);
  return {
    match: (r: { method: string; path: string; userAgent?: string }) =>
      doomed.has(r.userAgent ?? '') || (doomed.size < workers && ((r.method === 'POST' && r.path.endsWith('/eviction')) || (doomed.size > 0 && aboutTheDrain(r)))),
    answer: 'none' as const,
    times: Number.POSITIVE_INFINITY,
    afterApply: async (record: { userAgent?: string }) => {
      if (doomed.has(record.userAgent ?? '')) return;
      doomed.add(record.userAgent ?? '');
      const victim = senderOf(rig.workers, record.userAgent);
      if (!victim) throw new Error(`unknown sender ${record.userAgent}`);
      await killHard(victim);
      rig.workers.delete(victim);
      onKilled();
    },
  };
}

describe('a worker SIGKILLed mid-drain', () => {
  let rig: WorkerRig;
  beforeAll(async () => {
    rig = await startWorkerRig(2);
  }, 90_000);
  afterAll(() => rig?.stop());

  it(`another worker finishes the drain within ${RECOVERY_BOUND_MS / 1000} s + 5 s, evicting no pod twice and cordoning once`, async () => {
    let killedAt = 0;
    const { sim, api } = rig;
    // Killed right after the server accepted the first eviction: the node is cordoned, one pod is going.
    sim.injectFault(killSenderOnEviction(rig, 1, () => (killedAt = Date.now())));
    const id = await startRun(api, SCENARIOS['drain-gpu-node']!);
    const run = await waitTerminal(api, id, 60_000);
    const recoveryMs = Date.now() - killedAt;

    expect(killedAt).toBeGreaterThan(0);
    expect(run.status, run.reason).toBe('succeeded');
    expect(run.attempts).toBe(2);
    // The bound from src/engine/claim-timing.ts, plus the rest of the drain (the second eviction, pods gone).
    expect(recoveryMs).toBeLessThanOrEqual(RECOVERY_BOUND_MS + 5000);
    expect(doubleEvictions(sim)).toEqual([]);
    expect(repeatedWrites(sim)).toEqual([]);
    expect(cordons(sim)).toHaveLength(1);
    // The eviction whose answer the dead worker never got is in the run as applied.
    const first = run.steps.find((s) => s.action === 'evict' && s.attempt === 1);
    expect(first).toMatchObject({ result: 'ok', detail: expect.stringMatching(/confirmed by a later attempt/) });
    console.info(`worker SIGKILLed mid-drain: the drain finished ${recoveryMs} ms after the kill (bound ${RECOVERY_BOUND_MS} ms + 5 s)`);
  }, 90_000);
});

describe('uncordon-node after a drain that stopped right after cordoning', () => {
  let rig: ScenarioRig;
  let sim: SimCluster;
  let main: Remediator;

  beforeAll(async () => {
    rig = await startScenarioRig();
    ({ sim, main } = rig);
  });

  afterAll(() => rig?.stop());

  it('the cordon carries its stamp, so uncordon-node undoes it without force', async () => {
    let runId = '';
    // An operator cancels the drain the moment its cordon lands: the run stops before its next request.
    sim.injectFault({
      match: (r) => r.method === 'PATCH' && r.path === '/api/v1/nodes/gpu-a',
      answer: 'normal',
      afterApply: async () => {
        const id = await pollUntil(() => runId || undefined, 'the run id', 5000);
        const res = await fetch(`${main.url}/api/v1/runs/${id}/cancel`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${OPERATOR_TOKEN}` },
          body: JSON.stringify({ reason: 'wrong node' }),
        });
        expect(res.status).toBe(200);
      },
    });
    runId = await startRun(main, SCENARIOS['drain-gpu-node']!);
    const drain = await waitTerminal(main, runId);
    expect(drain.status, drain.reason).toBe('cancelled');
    expect(sim.get('Node', undefined, 'gpu-a')?.spec?.['unschedulable']).toBe(true);
    expect(cordons(sim)).toHaveLength(1);

    const uncordon = await waitTerminal(main, await startRun(main, { playbook: 'uncordon-node', params: { node: 'gpu-a' } }));
    expect(uncordon.status, uncordon.reason).toBe('succeeded');
    expect(uncordon.reason).toMatch(/uncordoned node gpu-a \(cordoned by drain-gpu-node/);
    expect(sim.get('Node', undefined, 'gpu-a')?.spec?.['unschedulable']).toBeFalsy();
  });
});

describe('a job that keeps killing its worker', () => {
  let rig: WorkerRig;
  beforeAll(async () => {
    rig = await startWorkerRig(3);
  }, 90_000);
  afterAll(() => rig?.stop());

  it('stalls past BullMQ’s limit and its run ends failed with that reason, not left running', async () => {
    const { sim, api } = rig;
    // The worker that evicts dies, and so does the one that resumes the drain.
    sim.injectFault(killSenderOnEviction(rig, 2));
    const id = await startRun(api, SCENARIOS['drain-gpu-node']!);
    const run = await waitTerminal(api, id, 60_000);
    expect(run.status).toBe('failed');
    expect(run.reason).toMatch(/queue job failed outside the playbook: job stalled more than allowable limit/);
    expect(doubleEvictions(sim)).toEqual([]);
  }, 90_000);
});
