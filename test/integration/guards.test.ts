import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, poll, fixture, type Harness } from '../helpers/harness.js';
import { notification } from '../helpers/alerts.js';
import { metricValue } from '../helpers/metrics-text.js';

const DRAIN_RULE = `
rules:
  - name: drain-hot
    matchers: ['alertname="GPUNodeOverheating"']
    playbook: drain-gpu-node
    params: { timeoutSeconds: 30, deleteEmptyDirData: true }
    cooldown: 1h
  - name: scale-slow
    matchers: ['alertname="LLMHighLatencyP95"']
    playbook: scale-replicas
    params: { maxReplicas: 8 }
    cooldown: 1h
`;

function auditOf(h: Harness, type: string) {
  return h.main.audit.read({ count: 10_000 }).then((rows) => rows.map((r) => r.entry as unknown as Record<string, unknown>).filter((e) => e.type === type));
}

describe('guards: blocked decisions are re-evaluated, and audited once per episode and guard', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ rules: DRAIN_RULE, extra: 'guards: { maxUnschedulableNodes: 1 }' });
  });
  afterAll(async () => {
    await h?.stop();
  });

  it('node budget: blocked while another node is cordoned, acts on a later notification once the budget frees', async () => {
    h.sim.patchObject('node', undefined, 'gpu-node-1', { spec: { unschedulable: true } });
    const alert = notification([{ labels: { alertname: 'GPUNodeOverheating', node: 'gpu-node-2', severity: 'critical' } }]);
    const first = await h.post(alert);
    const blocked = await h.waitRun(first.body.decisions[0].runId);
    expect(blocked).toMatchObject({ status: 'blocked', guard: { guard: 'node_budget' } });
    expect(h.sim.get('node', undefined, 'gpu-node-2')?.spec).not.toMatchObject({ unschedulable: true });

    // Alertmanager repeats the notification; still over budget: blocked again, audited once.
    const second = await h.post(alert);
    expect(second.body.decisions[0].decision).toBe('enqueued');
    const blockedAgain = await h.waitRun(second.body.decisions[0].runId);
    // Not by a cooldown: the run the budget stopped did nothing, so it holds no cooldown.
    expect(blockedAgain).toMatchObject({ status: 'blocked', guard: { guard: 'node_budget' } });
    expect((await auditOf(h, 'guard_blocked')).filter((e) => e.guard === 'node_budget')).toHaveLength(1);
    expect(metricValue((await h.get('/metrics')).text, 'remediator_guard_blocks_total', { guard: 'node_budget' })).toBe(1);

    // A human uncordons gpu-node-1: the next repeat of the same episode drains gpu-node-2.
    h.sim.patchObject('node', undefined, 'gpu-node-1', { spec: { unschedulable: false } });
    const third = await h.post(alert);
    const drained = await h.waitRun(third.body.decisions[0].runId, undefined, 30_000);
    expect(drained.status).toBe('succeeded');
    expect(h.sim.get('node', undefined, 'gpu-node-2')?.spec).toMatchObject({ unschedulable: true });
    // And the episode is now used up.
    expect((await h.post(alert)).body.decisions[0]).toMatchObject({ decision: 'duplicate', runId: drained.id });
  });

  it('cooldown at intake: the decision names the guard, the run record and audit say why, once per episode', async () => {
    const body = fixture('firing-llm-high-latency-p95').body;
    const first = await h.post(body);
    expect((await h.waitRun(first.body.decisions[0].runId)).status).toBe('succeeded');
    // A new episode of the same alert (it resolved and fired again) within the cooldown.
    const next = structuredClone(body);
    next.alerts[0].startsAt = '2026-11-29T01:00:00.000Z';
    const blocked = await h.post(next);
    expect(blocked.body.decisions[0]).toMatchObject({ decision: 'blocked', guard: 'cooldown', rule: 'scale-slow' });
    const run = await h.main.runs.get(blocked.body.decisions[0].runId);
    expect(run).toMatchObject({ status: 'blocked', guard: { guard: 'cooldown' } });
    const again = await h.post(next);
    expect(again.body.decisions[0]).toMatchObject({ decision: 'blocked', guard: 'cooldown', runId: run!.id });
    expect((await auditOf(h, 'guard_blocked')).filter((e) => e.guard === 'cooldown')).toHaveLength(1);
    const metrics = (await h.get('/metrics')).text;
    expect(metricValue(metrics, 'remediator_guard_blocks_total', { guard: 'cooldown' })).toBe(1);
    expect(metricValue(metrics, 'remediator_alert_decisions_total', { rule: 'scale-slow', decision: 'blocked' })).toBe(2);
    const scales = h.sim.requests.filter((r) => r.method === 'PATCH' && r.path.endsWith('/scale'));
    expect(scales).toHaveLength(1);
  });
});

describe('guards: maxQueueAge', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ roles: ['api'], rules: DRAIN_RULE, extra: 'guards: { maxQueueAge: 1s }' });
  });
  afterAll(async () => {
    await h?.stop();
  });

  it('a run that waited longer than maxQueueAge expires without acting', async () => {
    const res = await h.post(notification([{ labels: { alertname: 'GPUNodeOverheating', node: 'gpu-node-4', severity: 'critical' } }]));
    const runId = res.body.decisions[0].runId as string;
    const created = Date.parse((await h.main.runs.get(runId))!.createdAt);
    // The contract's own clock: the worker starts only after the run has aged past 1 s.
    await poll(async () => (Date.now() > created + 1200 ? true : undefined), 5000, 'the run to age');
    await h.startProcess('worker');
    const run = await h.waitRun(runId);
    expect(run.status).toBe('expired');
    expect(run.reason).toMatch(/maxQueueAge/);
    expect(h.sim.mutations()).toHaveLength(0);
  });
});
