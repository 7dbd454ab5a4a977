import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, poll, TOKENS, type Harness } from '../helpers/harness.js';
import { notification } from '../helpers/alerts.js';
import { metricValue } from '../helpers/metrics-text.js';

const RULES = `
rules:
  - name: scale-rate-limited
    matchers: ['alertname="LLMRequestSaturation"']
    playbook: scale-replicas
    params: { maxReplicas: 8 }
    maxRunsPerHour: 1
  - name: restart-oom
    matchers: ['alertname="KubePodOOMKilled"']
    playbook: restart-oom-pod
    params: { waitForReadySeconds: 0 }
`;

async function guardAudits(h: Harness, guard: string) {
  return (await h.main.audit.read({ count: 10_000 })).map((r) => r.entry as unknown as Record<string, unknown>).filter((e) => e.type === 'guard_blocked' && e.guard === guard);
}

async function blocksMetric(h: Harness, guard: string) {
  return metricValue((await h.get('/metrics')).text, 'remediator_guard_blocks_total', { guard });
}

const saturation = (deployment: string, startsAt?: string) =>
  notification([{ labels: { alertname: 'LLMRequestSaturation', namespace: 'ml-serving', deployment }, ...(startsAt ? { startsAt } : {}) }]);

describe('each guard both ways: within budget it acts, past it the run is blocked and the guard named everywhere', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ rules: RULES, extra: 'guards: { maxConcurrentRuns: 1, namespaces: { deny: [kube-system, ml-batch] } }' });
  });
  afterAll(async () => {
    await h?.stop();
  });

  it('rate_limit: the first run of the hour acts, the second is blocked', async () => {
    const first = await h.post(saturation('llm-api'));
    expect(first.body.decisions[0].decision).toBe('enqueued');
    expect((await h.waitRun(first.body.decisions[0].runId)).status).toBe('succeeded');
    const second = await h.post(saturation('embedding-service'));
    expect(second.body.decisions[0]).toMatchObject({ decision: 'blocked', guard: 'rate_limit' });
    expect(await h.main.runs.get(second.body.decisions[0].runId)).toMatchObject({ status: 'blocked', guard: { guard: 'rate_limit' } });
    expect(await guardAudits(h, 'rate_limit')).toHaveLength(1);
    expect(await blocksMetric(h, 'rate_limit')).toBe(1);
  });

  it('namespace: an allowed namespace acts, a denied one is blocked (alert and manual run)', async () => {
    h.sim.markOOMKilled('ml-batch', 'embed-batch-5f7c9-4kq2x', 'embedder');
    const denied = await h.post(notification([{ labels: { alertname: 'KubePodOOMKilled', namespace: 'ml-batch', pod: 'embed-batch-5f7c9-4kq2x', container: 'embedder' } }]));
    expect(denied.body.decisions[0]).toMatchObject({ decision: 'blocked', guard: 'namespace' });
    const manual = await h.call('/api/v1/runs', TOKENS.operator, { playbook: 'restart-oom-pod', params: { namespace: 'kube-system', pod: 'coredns-x' }, reason: 'test' });
    expect(manual.status).toBe(409);
    expect(manual.body).toMatchObject({ error: 'blocked', guard: 'namespace' });
    expect(await h.main.runs.get(manual.body.runId)).toMatchObject({ status: 'blocked', guard: { guard: 'namespace' } });
    const allowed = await h.post(notification([{ labels: { alertname: 'KubePodOOMKilled', namespace: 'ml-serving', pod: 'llm-api-7d9f8b6c5-x2kqp', container: 'llm-api' } }]));
    expect((await h.waitRun(allowed.body.decisions[0].runId)).status).toBe('succeeded');
    expect(await guardAudits(h, 'namespace')).toHaveLength(2);
    expect(await blocksMetric(h, 'namespace')).toBe(2);
    expect(h.sim.requests.filter((r) => r.method !== 'GET' && r.path.includes('/namespaces/ml-batch/'))).toHaveLength(0);
  });

  it('opt_out: a workload labelled remediator.dev/disabled=true is never touched; unlabelled, it is', async () => {
    h.sim.patchObject('deployment', 'ml-serving', 'llm-inference', { metadata: { labels: { 'remediator.dev/disabled': 'true' } } });
    const res = await h.call('/api/v1/runs', TOKENS.operator, { playbook: 'scale-replicas', params: { namespace: 'ml-serving', name: 'llm-inference', step: 1, maxReplicas: 8 }, reason: 'opt-out probe' });
    const run = await h.waitRun(res.body.id);
    expect(run).toMatchObject({ status: 'blocked', guard: { guard: 'opt_out' } });
    expect(run.reason).toMatch(/remediator\.dev\/disabled/);
    expect(await guardAudits(h, 'opt_out')).toHaveLength(1);
    expect(await blocksMetric(h, 'opt_out')).toBe(1);
    expect(h.sim.requests.filter((r) => r.method === 'PATCH' && r.path.includes('/deployments/llm-inference'))).toHaveLength(0);
    h.sim.patchObject('deployment', 'ml-serving', 'llm-inference', { metadata: { labels: { 'remediator.dev/disabled': null } } });
    const again = await h.call('/api/v1/runs', TOKENS.operator, { playbook: 'scale-replicas', params: { namespace: 'ml-serving', name: 'llm-inference', step: 1, maxReplicas: 8 }, reason: 'label removed' });
    expect((await h.waitRun(again.body.id)).status).toBe('succeeded');
  });

  it('max_concurrent and target_locked: a manual run is refused while the only slot or the target is busy', async () => {
    h.sim.setPdbMaxUnavailable('ml-serving', 'llm-inference-pdb', 0);
    const node = ['gpu-node-1', 'gpu-node-2', 'gpu-node-4'].find((n) => h.sim.list('pod').some((p) => p.spec?.['nodeName'] === n && p.metadata.labels?.['app.kubernetes.io/name'] === 'llm-inference'))!;
    const drain = await h.call('/api/v1/runs', TOKENS.operator, { playbook: 'drain-gpu-node', params: { node, force: true, deleteEmptyDirData: true, timeoutSeconds: 60 }, reason: 'hot' });
    expect(drain.status).toBe(202);
    await poll(async () => ((await h.main.runs.get(drain.body.id))?.status === 'running' ? true : undefined), 10_000, 'the drain to run');
    const sameTarget = await h.call('/api/v1/runs', TOKENS.operator, { playbook: 'drain-gpu-node', params: { node }, reason: 'again' });
    expect(sameTarget.status).toBe(409);
    expect(sameTarget.body.guard).toBe('target_locked');
    const other = await h.call('/api/v1/runs', TOKENS.operator, { playbook: 'scale-replicas', params: { namespace: 'ml-serving', name: 'llm-api', step: 1, maxReplicas: 8 }, reason: 'busy' });
    expect(other.status).toBe(409);
    expect(other.body.guard).toBe('max_concurrent');
    expect(await h.main.runs.get(sameTarget.body.runId)).toMatchObject({ status: 'blocked', guard: { guard: 'target_locked' } });
    expect(await h.main.runs.get(other.body.runId)).toMatchObject({ status: 'blocked', guard: { guard: 'max_concurrent' } });
    expect(await guardAudits(h, 'target_locked')).toHaveLength(1);
    expect(await blocksMetric(h, 'target_locked')).toBe(1);
    expect(await blocksMetric(h, 'max_concurrent')).toBe(1);
    expect(await guardAudits(h, 'max_concurrent')).toHaveLength(1);
    // The budget frees: the same request is accepted.
    h.sim.setPdbMaxUnavailable('ml-serving', 'llm-inference-pdb', 1);
    const drained = await h.waitRun(drain.body.id, undefined, 30_000);
    expect(drained.status, drained.reason).toBe('succeeded');
    const later = await h.call('/api/v1/runs', TOKENS.operator, { playbook: 'scale-replicas', params: { namespace: 'ml-serving', name: 'llm-api', step: 1, maxReplicas: 8 }, reason: 'free now' });
    expect(later.status).toBe(202);
    expect((await h.waitRun(later.body.id)).status).toBe('succeeded');
  });
});
