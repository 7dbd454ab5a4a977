import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, poll, TOKENS, type Harness } from '../helpers/harness.js';
import { notification } from '../helpers/alerts.js';
import { metricValue } from '../helpers/metrics-text.js';

const SCALE = { playbook: 'scale-replicas', params: { namespace: 'ml-serving', name: 'llm-api', maxReplicas: 6 }, reason: 'latency spike after deploy' };

async function audit(h: Harness) {
  return (await h.main.audit.read({ count: 10_000 })).map((r) => r.entry as unknown as Record<string, unknown>);
}

function scalePatches(h: Harness, name = 'llm-api') {
  return h.sim.requests.filter((r) => r.method === 'PATCH' && r.path.endsWith(`/deployments/${name}/scale`));
}

describe('manual runs', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => {
    await h?.stop();
  });

  it('runs a playbook by hand with the same types as an alert, audited with operator and reason', async () => {
    const res = await h.call('/api/v1/runs', TOKENS.operator, SCALE);
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ status: 'queued' });
    const run = await h.waitRun(res.body.id);
    expect(run).toMatchObject({ status: 'succeeded', changed: true, playbook: 'scale-replicas', target: 'deployment/ml-serving/llm-api', trigger: { source: 'manual', operator: 'alice' } });
    const shown = await h.get(`/api/v1/runs/${res.body.id}`, TOKENS.viewer);
    expect(shown.body).toMatchObject({ id: res.body.id, status: 'succeeded', steps: expect.arrayContaining([expect.objectContaining({ action: 'scale', result: 'ok', before: { replicas: 2 }, after: { replicas: 3 } })]) });
    const entries = await audit(h);
    expect(entries).toContainEqual(expect.objectContaining({ type: 'operator_action', action: 'trigger', actor: 'alice', reason: SCALE.reason, runId: res.body.id }));
  });

  it('rejects bad requests with 400 and the path of each problem; roles are enforced', async () => {
    const bad = await h.call('/api/v1/runs', TOKENS.operator, { playbook: 'scale-replicas', params: { namespace: 'ml-serving', name: 'llm-api', maxReplicas: 'six' } });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toBe('invalid_request');
    expect(bad.body.details.map((d: { path: string }) => d.path)).toEqual(expect.arrayContaining(['reason', 'params.maxReplicas']));
    const unknown = await h.call('/api/v1/runs', TOKENS.operator, { playbook: 'reboot-node', params: {}, reason: 'x' });
    expect(unknown.status).toBe(400);
    expect(unknown.body.details[0].path).toBe('playbook');
    expect((await h.call('/api/v1/runs', TOKENS.viewer, SCALE)).status).toBe(403);
    expect((await h.call('/api/v1/runs', TOKENS.operator, { ...SCALE, bypassGuards: true })).status).toBe(403);
    expect((await h.call('/api/v1/pause', TOKENS.operator, { reason: 'x' })).status).toBe(403);
    expect((await h.call('/api/v1/runs', 'nope-nope-nope-nope', SCALE)).status).toBe(401);
  });

  it('lists runs newest first with filters and cursors, without gaps or repeats', async () => {
    for (let i = 0; i < 5; i++) {
      const r = await h.call('/api/v1/runs', TOKENS.operator, { playbook: 'scale-replicas', params: { namespace: 'ml-serving', name: 'embedding-service', replicas: 2, maxReplicas: 4 }, reason: `probe ${i}`, dryRun: true });
      expect(r.status).toBe(202);
      // One run per target at a time: the next manual run would get 409 target_locked.
      await h.waitRun(r.body.id);
    }
    await poll(async () => {
      const page = await h.get('/api/v1/runs?status=queued,running&limit=100', TOKENS.viewer);
      return page.body.items.length === 0 ? true : undefined;
    }, 20_000, 'runs to finish');
    const all = await h.get('/api/v1/runs?limit=500', TOKENS.viewer);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page = await h.get(`/api/v1/runs?limit=2${cursor ? `&cursor=${cursor}` : ''}`, TOKENS.viewer);
      expect(page.status).toBe(200);
      seen.push(...page.body.items.map((r: { id: string }) => r.id));
      cursor = page.body.nextCursor;
    } while (cursor);
    expect(seen).toEqual(all.body.items.map((r: { id: string }) => r.id));
    expect(new Set(seen).size).toBe(seen.length);
    const filtered = await h.get('/api/v1/runs?playbook=scale-replicas&target=deployment/ml-serving/embedding-service&since=1h', TOKENS.viewer);
    expect(filtered.body.items).toHaveLength(5);
    expect((await h.get('/api/v1/runs?status=bogus', TOKENS.viewer)).status).toBe(400);
    expect((await h.get('/api/v1/runs?cursor=%%%', TOKENS.viewer)).status).toBe(400);
  });
});

describe('approvals', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({
      extra: 'guards: { manualApproval: all, approvalTimeout: 2s }',
      rules: `
rules:
  - name: scale-with-approval
    matchers: ['alertname="LLMHighLatencyP95"']
    playbook: scale-replicas
    params: { maxReplicas: 6 }
    approval: required
`,
    });
  });
  afterAll(async () => {
    await h?.stop();
  });

  it('waiting → approved by another operator → acts; the requester cannot approve', async () => {
    const res = await h.call('/api/v1/runs', TOKENS.operator, SCALE);
    expect(res.body.status).toBe('awaiting_approval');
    const self = await h.call(`/api/v1/runs/${res.body.id}/approve`, TOKENS.operator, { reason: 'looks fine' });
    expect(self.status).toBe(403);
    expect(scalePatches(h)).toHaveLength(0);
    const ok = await h.call(`/api/v1/runs/${res.body.id}/approve`, TOKENS.admin, { reason: 'checked the dashboard' });
    expect(ok.status).toBe(200);
    const run = await h.waitRun(res.body.id);
    expect(run).toMatchObject({ status: 'succeeded', approval: { decision: 'approved', by: 'root', reason: 'checked the dashboard' } });
    expect(scalePatches(h)).toHaveLength(1);
    expect(await audit(h)).toContainEqual(expect.objectContaining({ type: 'operator_action', action: 'approve', actor: 'root', runId: res.body.id }));
    expect((await h.call(`/api/v1/runs/${res.body.id}/approve`, TOKENS.admin, { reason: 'again' })).status).toBe(409);
  });

  it('rejected → nothing; cancelled while waiting → nothing; expired → nothing; an alert rule with approval waits too', async () => {
    const before = h.sim.mutations().length;
    const rejected = await h.call('/api/v1/runs', TOKENS.operator, SCALE);
    expect((await h.call(`/api/v1/runs/${rejected.body.id}/reject`, TOKENS.admin, { reason: 'not during the launch' })).status).toBe(200);
    expect(await h.main.runs.get(rejected.body.id)).toMatchObject({ status: 'rejected', approval: { decision: 'rejected', by: 'root' } });
    const cancelled = await h.call('/api/v1/runs', TOKENS.operator, SCALE);
    expect((await h.call(`/api/v1/runs/${cancelled.body.id}/cancel`, TOKENS.operator, { reason: 'asked by mistake' })).body).toMatchObject({ status: 'cancelled' });
    expect((await h.call(`/api/v1/runs/${cancelled.body.id}/approve`, TOKENS.admin, { reason: 'too late' })).status).toBe(409);

    const alert = await h.post(notification([{ labels: { alertname: 'LLMHighLatencyP95', namespace: 'ml-serving', deployment: 'llm-api' } }]));
    expect(alert.body.decisions[0]).toMatchObject({ decision: 'awaiting_approval', rule: 'scale-with-approval' });
    const metrics = (await h.get('/metrics')).text;
    expect(metricValue(metrics, 'remediator_queue_jobs', { state: 'awaiting_approval' })).toBeGreaterThanOrEqual(1);
    expect(metricValue(metrics, 'remediator_alert_decisions_total', { rule: 'scale-with-approval', decision: 'awaiting_approval' })).toBe(1);
    // Nobody answers: both expire after approvalTimeout (2 s).
    const expired = await h.waitRun(alert.body.decisions[0].runId, (r) => r.status === 'expired', 15_000);
    expect(expired.approval).toMatchObject({ decision: 'expired' });
    expect(h.sim.mutations().length).toBe(before);
  });
});

describe('pause, resume and cancel', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ roles: ['api'] });
  });
  afterAll(async () => {
    await h?.stop();
  });

  it('pause stops new runs at once and queued runs do not mutate; resume restores', async () => {
    // Queued before the pause (no worker yet).
    const queued = await h.post(notification([{ labels: { alertname: 'LLMHighLatencyP95', namespace: 'ml-serving', deployment: 'llm-api' } }]));
    const queuedId = queued.body.decisions[0].runId as string;
    const paused = await h.call('/api/v1/pause', TOKENS.admin, { reason: 'GPU firmware rollout' });
    expect(paused.body).toEqual({ paused: ['global'] });
    const status = await h.get('/api/v1/status', TOKENS.viewer);
    expect(status.body.paused.global).toMatchObject({ reason: 'GPU firmware rollout', by: 'root' });
    expect(metricValue((await h.get('/metrics')).text, 'remediator_paused', { scope: 'global' })).toBe(1);

    const during = notification([{ labels: { alertname: 'KubePodOOMKilled', namespace: 'ml-serving', pod: 'llm-api-7d9f8b6c5-x2kqp', container: 'llm-api' } }]);
    const blocked = await h.post(during);
    expect(blocked.body.decisions[0]).toMatchObject({ decision: 'blocked', guard: 'paused' });
    const manual = await h.call('/api/v1/runs', TOKENS.operator, SCALE);
    expect(manual.status).toBe(409);
    expect(manual.body).toMatchObject({ error: 'blocked', guard: 'paused' });

    await h.startProcess('worker');
    const stopped = await h.waitRun(queuedId);
    expect(stopped).toMatchObject({ status: 'blocked', guard: { guard: 'paused' } });
    expect(h.sim.mutations()).toHaveLength(0);

    const resumed = await h.call('/api/v1/resume', TOKENS.admin, { reason: 'rollout done' });
    expect(resumed.body).toEqual({ paused: [] });
    // The repeat notification of the blocked episode is evaluated again and acts.
    const again = await h.post(during);
    expect(again.body.decisions[0].decision).toBe('enqueued');
    expect((await h.waitRun(again.body.decisions[0].runId, undefined, 30_000)).status).toBe('succeeded');
    expect(metricValue((await h.get('/metrics')).text, 'remediator_paused', { scope: 'global' })).toBe(0);
    const entries = await audit(h);
    expect(entries).toContainEqual(expect.objectContaining({ type: 'operator_action', action: 'pause', actor: 'root', reason: 'GPU firmware rollout' }));
    expect(entries).toContainEqual(expect.objectContaining({ type: 'operator_action', action: 'resume', actor: 'root' }));
  });

  it('pausing one playbook leaves the others alone', async () => {
    await h.call('/api/v1/pause', TOKENS.admin, { reason: 'no drains today', playbook: 'drain-gpu-node' });
    const drain = await h.post(notification([{ labels: { alertname: 'GPUNodeOverheating', node: 'gpu-node-1', severity: 'critical' } }]));
    expect(drain.body.decisions[0]).toMatchObject({ decision: 'blocked', guard: 'paused' });
    const scale = await h.call('/api/v1/runs', TOKENS.operator, { ...SCALE, params: { ...SCALE.params, name: 'embedding-service', replicas: 2 } });
    expect(scale.status).toBe(202);
    await h.call('/api/v1/resume', TOKENS.admin, { reason: 'ok', playbook: 'drain-gpu-node' });
  });

  it('an operator cancels a running drain between evictions', async () => {
    h.sim.setPdbMaxUnavailable('ml-serving', 'llm-inference-pdb', 0);
    const node = ['gpu-node-1', 'gpu-node-2', 'gpu-node-4'].find((n) => h.sim.list('pod').some((p) => p.spec?.['nodeName'] === n && p.metadata.labels?.['app.kubernetes.io/name'] === 'llm-inference'))!;
    const drain = await h.call('/api/v1/runs', TOKENS.operator, { playbook: 'drain-gpu-node', params: { node, deleteEmptyDirData: true, force: true, timeoutSeconds: 120 }, reason: 'hot node' });
    expect(drain.status).toBe(202);
    await poll(async () => (h.sim.requests.some((r) => r.path.endsWith('/eviction') && r.status === 429) ? true : undefined), 20_000, 'a refused eviction');
    const cancel = await h.call(`/api/v1/runs/${drain.body.id}/cancel`, TOKENS.operator, { reason: 'wrong node' });
    expect(cancel.body).toMatchObject({ status: 'running' });
    const run = await h.waitRun(drain.body.id, undefined, 20_000);
    expect(run.status).toBe('cancelled');
    expect(run.reason).toMatch(/wrong node/);
    h.sim.setPdbMaxUnavailable('ml-serving', 'llm-inference-pdb', 1);
    expect((await h.call(`/api/v1/runs/${drain.body.id}/cancel`, TOKENS.operator, { reason: 'again' })).status).toBe(409);
  });
});
