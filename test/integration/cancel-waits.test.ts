import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OPERATOR_TOKEN, SCENARIOS, SEED_TEXT, startRun, startScenarioRig, waitTerminal, type ScenarioRig } from '../helpers/fault-rig.js';
import { pollUntil } from '../helpers/sim-helpers.js';
import { startSimCluster, type SimCluster } from '../../src/sim/sim-cluster.js';
import { parseSeed } from '../../src/sim/sim-seed.js';
import type { Remediator } from '../../src/composition-root.js';
import type { Run } from '../../src/domain/run.js';

/** The fault rig's cluster with slow pods: evicted pods take a minute to go, new ones a minute to be Ready. */
async function slowCluster(): Promise<SimCluster> {
  const sim = await startSimCluster({ seed: parseSeed(SEED_TEXT, 'cancel-waits'), readyDelayMs: 60_000, terminationDelayMs: 60_000 });
  SCENARIOS['restart-oom-pod']!.prepare?.(sim);
  return sim;
}

/** A cancel reaches a running run within a second, also while it waits (README "How an alert becomes an action", on-call control). */
describe('cancel wakes a run that is waiting', () => {
  let rig: ScenarioRig;
  let main: Remediator;

  beforeAll(async () => {
    rig = await startScenarioRig({ sim: slowCluster });
    main = rig.main;
  });

  afterAll(() => rig?.stop());

  async function cancelWhile(playbook: string, waiting: (run: Run) => boolean): Promise<{ run: Run; ms: number; seen: Run }> {
    const id = await startRun(main, SCENARIOS[playbook]!);
    await pollUntil(async () => {
      const run = await main.runs.get(id);
      return run && waiting(run) ? run : undefined;
    }, `${playbook} to start waiting`, 15_000);
    const started = Date.now();
    const res = await fetch(`${main.url}/api/v1/runs/${id}/cancel`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${OPERATOR_TOKEN}` },
      body: JSON.stringify({ reason: 'wrong target' }),
    });
    expect(res.status).toBe(200);
    const seen = (await (await fetch(`${main.url}/api/v1/runs/${id}`, { headers: { authorization: `Bearer ${OPERATOR_TOKEN}` } })).json()) as Run;
    const run = await waitTerminal(main, id, 10_000);
    return { run, ms: Date.now() - started, seen };
  }

  it('a drain waiting for its evicted pods to go is cancelled within 2 s', async () => {
    const { run, ms, seen } = await cancelWhile('drain-gpu-node', (r) => r.steps.filter((s) => s.action === 'evict' && s.result === 'ok').length === 2);
    expect(seen.cancelRequested).toMatchObject({ by: 'alice', reason: 'wrong target' });
    expect(run.status, run.reason).toBe('cancelled');
    expect(run.reason).toMatch(/cancelled by alice: wrong target/);
    expect(ms).toBeLessThan(2000);
  });

  it('a restart waiting for a Ready replacement is cancelled within 2 s', async () => {
    const { run, ms, seen } = await cancelWhile('restart-oom-pod', (r) => r.steps.some((s) => s.action === 'annotate' && s.result === 'ok'));
    expect(seen.cancelRequested).toMatchObject({ by: 'alice', reason: 'wrong target' });
    expect(run.status, run.reason).toBe('cancelled');
    expect(ms).toBeLessThan(2000);
  });
});
