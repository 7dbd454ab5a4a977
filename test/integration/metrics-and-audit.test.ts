import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, fixture, poll, type Harness } from '../helpers/harness.js';
import { notification } from '../helpers/alerts.js';
import { metricSum, metricValue } from '../helpers/metrics-text.js';
import { verifyAuditChain } from '../../src/audit/verify-audit-chain.js';
import type { Remediator } from '../../src/composition-root.js';

const SERIES = [
  'remediator_alerts_received_total',
  'remediator_alerts_truncated_total',
  'remediator_alert_decisions_total',
  'remediator_guard_blocks_total',
  'remediator_runs_total',
  'remediator_run_duration_seconds_bucket',
  'remediator_actions_total',
  'remediator_kube_requests_total',
  'remediator_queue_jobs',
  'remediator_paused',
  'remediator_http_request_duration_seconds_bucket',
  'remediator_build_info',
  'process_cpu_seconds_total',
];

async function scrape(h: Harness, p: Remediator): Promise<string> {
  return (await h.get('/metrics', undefined, p)).text;
}

describe('metrics of an api and a worker process, and the sealed audit chain', () => {
  let h: Harness;
  let api: Remediator;
  let worker: Remediator;
  beforeAll(async () => {
    h = await startHarness({ roles: ['api', 'worker'] });
    [api, worker] = h.processes as [Remediator, Remediator];
  });
  afterAll(async () => {
    await h?.stop();
  });

  it('counts every decision, run, action and Kubernetes request, and the chain verifies', async () => {
    const oom = await h.post(fixture('firing-kube-pod-oom-killed').body);
    const runId = oom.body.decisions[0].runId as string;
    await h.post(fixture('firing-kube-pod-oom-killed').body); // duplicate
    await h.post(fixture('firing-max-alerts-2-truncated').body); // 2 enqueued, 2 truncated
    await h.post(notification([{ labels: { alertname: 'SomethingElse', severity: 'info' } }])); // unmatched
    await h.post(notification([{ labels: { alertname: 'KubePodOOMKilled', namespace: 'ml-serving', pod: 'Bad_Name', container: 'x' } }])); // invalid_params
    const run = await h.waitRun(runId, undefined, 30_000);
    expect(run.status).toBe('succeeded');
    await poll(async () => {
      const runs = await h.main.runs.list({ limit: 100 });
      return runs.every((r) => !['queued', 'running'].includes(r.status)) ? true : undefined;
    }, 30_000, 'all runs finished');

    const apiText = await scrape(h, api);
    const workerText = await scrape(h, worker);
    for (const name of SERIES) {
      expect(apiText, `api exports ${name}`).toMatch(new RegExp(`^${name}[{ ]`, 'm'));
      expect(workerText, `worker exports ${name}`).toMatch(new RegExp(`^${name}[{ ]`, 'm'));
    }

    // The api process decides.
    expect(metricValue(apiText, 'remediator_alerts_received_total', { status: 'firing' })).toBe(6);
    expect(metricValue(apiText, 'remediator_alerts_received_total', { status: 'resolved' })).toBe(0);
    expect(metricValue(apiText, 'remediator_alerts_truncated_total')).toBe(2);
    expect(metricValue(apiText, 'remediator_alert_decisions_total', { rule: 'restart-oom-killed-pods', decision: 'enqueued' })).toBe(3);
    expect(metricValue(apiText, 'remediator_alert_decisions_total', { rule: 'restart-oom-killed-pods', decision: 'duplicate' })).toBe(1);
    expect(metricValue(apiText, 'remediator_alert_decisions_total', { rule: 'none', decision: 'unmatched' })).toBe(1);
    expect(metricValue(apiText, 'remediator_alert_decisions_total', { rule: 'restart-oom-killed-pods', decision: 'invalid_params' })).toBe(1);
    expect(metricValue(apiText, 'remediator_http_request_duration_seconds_count', { route: '/api/v1/alerts', method: 'POST', code: '200' })).toBe(5);
    expect(metricValue(apiText, 'remediator_build_info', { version: '0.1.0' })).toBe(1);
    expect(metricValue(apiText, 'remediator_paused', { scope: 'global' })).toBe(0);
    // The api never runs playbooks.
    expect(metricSum(apiText, 'remediator_runs_total')).toBe(0);

    // The worker acts.
    const succeeded = metricValue(workerText, 'remediator_runs_total', { playbook: 'restart-oom-pod', source: 'alert', status: 'succeeded' }) ?? 0;
    const runs = await h.main.runs.list({ limit: 100 });
    expect(succeeded).toBe(runs.filter((r) => r.status === 'succeeded').length);
    expect(metricSum(workerText, 'remediator_runs_total')).toBe(runs.length);
    expect(metricValue(workerText, 'remediator_run_duration_seconds_count', { playbook: 'restart-oom-pod', status: 'succeeded' })).toBe(succeeded);
    const evictions = h.sim.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/eviction') && r.status < 300).length;
    expect(metricValue(workerText, 'remediator_actions_total', { playbook: 'restart-oom-pod', action: 'evict', result: 'ok' })).toBe(evictions);
    const kubeRequests = h.sim.requests.filter((r) => r.path !== '/version').length;
    expect(metricSum(workerText, 'remediator_kube_requests_total')).toBeGreaterThanOrEqual(kubeRequests - 2);
    expect(metricValue(workerText, 'remediator_kube_requests_total', { verb: 'create', resource: 'pods/eviction', code: '201' })).toBe(evictions);
    // Queue depth is cluster-wide: both processes report the same value.
    for (const state of ['waiting', 'active', 'delayed', 'failed']) {
      expect(metricValue(apiText, 'remediator_queue_jobs', { state })).toBe(metricValue(workerText, 'remediator_queue_jobs', { state }));
    }

    // The audit trail: every run created and finished, every mutation, sealed and verifiable.
    const entries = await poll(async () => {
      const result = await verifyAuditChain({ redis: h.main.redis, prefix: h.config.redis.prefix, key: h.auditKey });
      return result.ok && result.unsealed === 0 ? result : undefined;
    }, 10_000, 'sealer to catch up');
    expect(entries.checked).toBeGreaterThan(5);
    const audit = (await h.main.audit.read({ count: 10_000 })).map((e) => e.entry as { type: string; runId?: string; to?: string; action?: string });
    expect(audit.filter((e) => e.type === 'run_created')).toHaveLength(3);
    expect(audit.some((e) => e.type === 'run_status' && e.runId === runId && e.to === 'succeeded')).toBe(true);
    expect(audit.filter((e) => e.type === 'kube_mutation' && e.action === 'evict' && e.runId === runId)).toHaveLength(1);
  });
});
