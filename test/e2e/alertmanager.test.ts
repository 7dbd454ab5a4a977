/**
 * End to end with the real Alertmanager 0.25 (Debian's prometheus-alertmanager): alerts are
 * POSTed to Alertmanager's v2 API the way Prometheus does, Alertmanager groups them and calls
 * Remediator's webhook with a bearer token from a credentials_file, and Remediator acts on the
 * simulated cluster. Timing follows ../../../shared/reference/alertmanager-behaviour.md.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, poll, TOKENS, type Harness } from '../helpers/harness.js';
import { metricValue } from '../helpers/metrics-text.js';
import { ALERTMANAGER_BIN, AMTOOL_BIN, onPath, runTool, startAlertmanager, type AlertmanagerHandle, type PostableAlert } from '../helpers/alertmanager-process.js';
import type { Run } from '../../src/domain/run.js';

const available = onPath(ALERTMANAGER_BIN);
const title = available
  ? 'e2e: real Alertmanager 0.25 delivering to Remediator'
  : `e2e: real Alertmanager — SKIPPED: ${ALERTMANAGER_BIN} is not on PATH (apt-get install prometheus-alertmanager)`;

const OOM_POD = 'llm-api-7d9f8b6c5-x2kqp';
/** Alertmanager's fingerprint of these labels, as in the captured fixture firing-llm-high-latency-p95.json. */
const LLM_API_FINGERPRINT = '00bf06a2e4a81b74';

function latencyAlert(deployment: string, startsAt: string, endsAt: string): PostableAlert {
  // What Prometheus sends on every evaluation: same startsAt, endsAt pushed into the future
  // (its "valid until"); a resolution is the same alert with endsAt in the past.
  return {
    labels: { alertname: 'LLMHighLatencyP95', namespace: 'ml-serving', deployment, severity: 'warning' },
    annotations: { summary: `p95 latency of ml-serving/${deployment} is 3.42s`, description: 'above 2s for 5 minutes' },
    startsAt,
    endsAt,
    generatorURL: 'http://prometheus-k8s-0:9090/graph?g0.expr=histogram_quantile%280.95%2C+x%29+%3E+2&g0.tab=1',
  };
}

function oomAlert(startsAt: string, endsAt: string): PostableAlert {
  return {
    labels: { alertname: 'KubePodOOMKilled', namespace: 'ml-serving', pod: OOM_POD, container: 'llm-api', severity: 'warning' },
    annotations: { summary: `Container llm-api of ml-serving/${OOM_POD} was OOM-killed` },
    startsAt,
    endsAt,
    generatorURL: 'http://prometheus-k8s-0:9090/graph?g0.expr=kube_pod_container_status_last_terminated_reason&g0.tab=1',
  };
}

function withDeadline<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not done within ${ms} ms`)), ms);
  });
  return Promise.race([p, deadline]).finally(() => clearTimeout(timer));
}

const iso = (offsetMs = 0): string => new Date(Date.now() + offsetMs).toISOString();

describe.skipIf(!available)(title, () => {
  let h: Harness;
  let am: AlertmanagerHandle;

  const scalePatches = (deployment: string) =>
    h.sim.requests.filter((r) => r.method === 'PATCH' && !r.dryRun && r.path === `/apis/apps/v1/namespaces/ml-serving/deployments/${deployment}/scale`);
  const evictions = () => h.sim.requests.filter((r) => r.method === 'POST' && !r.dryRun && r.path === `/api/v1/namespaces/ml-serving/pods/${OOM_POD}/eviction`);
  const amCounter = async (name: string): Promise<number> => metricValue(await am.metrics(), name, { integration: 'webhook' }) ?? 0;
  const serviceMetric = async (name: string, labels: Record<string, string>): Promise<number> => metricValue((await h.get('/metrics')).text, name, labels) ?? 0;
  /** Waits until an Alertmanager counter exceeds `than`; returns the new value. */
  const amCounterAbove = (name: string, than: number, timeoutMs: number) =>
    poll(async () => {
      const v = await amCounter(name);
      return v > than ? v : undefined;
    }, timeoutMs, `${name}{integration="webhook"} > ${than}`);
  // Tolerates Redis errors: right after Redis comes back the service's connection is still reconnecting.
  const findRun = (pred: (r: Run) => boolean, what: string) =>
    poll(async () => (await h.main.runs.list({ limit: 100 }).catch(() => [] as Run[])).find(pred), 20_000, what);

  beforeAll(async () => {
    h = await startHarness();
    am = await startAlertmanager({
      // A trailing newline as `echo token > file` leaves it; Alertmanager trims it.
      files: { 'remediator-token': `${TOKENS.alertmanager}\n` },
      config: (dir) => `
global:
  resolve_timeout: 5m
route:
  receiver: remediator
  group_by: ['alertname', 'namespace']
  group_wait: 1s
  group_interval: 2s
  repeat_interval: 1m
receivers:
  - name: remediator
    webhook_configs:
      - url: ${h.main.url}/api/v1/alerts
        send_resolved: true
        max_alerts: 0
        http_config:
          authorization:
            type: Bearer
            credentials_file: ${dir}/remediator-token
`,
    });
  });

  afterAll(async () => {
    await am?.stop();
    // Bounded so that a hang fails with a reason instead of the 60 s hook timeout: BullMQ's
    // Worker.close() never resolves while its blocking connection is still reconnecting, which is
    // the case for a few seconds after h.redis.start() (upstream taskforcesh/bullmq#4656).
    if (h) await withDeadline(h.stop(), 20_000, 'Remediator.stop() (RunWorker.close -> BullMQ Worker.close) hung after the Redis restart');
  });

  it('the configuration passes amtool check-config', () => {
    if (!onPath(AMTOOL_BIN)) return;
    const check = runTool(AMTOOL_BIN, ['check-config', am.configFile]);
    expect(check.output).toMatch(/SUCCESS/);
    expect(check.ok).toBe(true);
  });

  let llmStartsAt = '';

  it('(a) a firing LLMHighLatencyP95 scales llm-api exactly once', async () => {
    const sent0 = await amCounter('alertmanager_notifications_total');
    const failed0 = await amCounter('alertmanager_notifications_failed_total');

    llmStartsAt = iso();
    await am.postAlerts([latencyAlert('llm-api', llmStartsAt, iso(4 * 60_000))]);

    const run = await findRun((r) => r.trigger.rule === 'scale-slow-llm' && r.target === 'deployment/ml-serving/llm-api', 'a scale-slow-llm run for llm-api');
    expect(run.trigger.source).toBe('alert');
    // Alertmanager computed the same fingerprint as in the captured notification.
    expect(run.trigger.alert?.fingerprint).toBe(LLM_API_FINGERPRINT);
    const done = await h.waitRun(run.id);
    expect(done).toMatchObject({ status: 'succeeded', changed: true, playbook: 'scale-replicas' });
    expect(scalePatches('llm-api')).toHaveLength(1);
    expect(h.sim.get('deployments', 'ml-serving', 'llm-api')?.spec?.['replicas']).toBe(3);

    // Alertmanager counts the delivery as a success: Remediator answered 2xx.
    await amCounterAbove('alertmanager_notifications_total', sent0, 10_000);
    expect(await amCounter('alertmanager_notifications_failed_total')).toBe(failed0);
    expect(await serviceMetric('remediator_alerts_received_total', { status: 'firing' })).toBeGreaterThanOrEqual(1);
    expect(await serviceMetric('remediator_alert_decisions_total', { rule: 'scale-slow-llm', decision: 'enqueued' })).toBe(1);
  });

  it('(b) re-posts and a group change make Alertmanager notify again; llm-api is a duplicate and is not scaled twice', async () => {
    const sent0 = await amCounter('alertmanager_notifications_total');
    const failed0 = await amCounter('alertmanager_notifications_failed_total');

    // Prometheus re-sends the firing alert on every evaluation (same startsAt, later endsAt).
    for (let i = 0; i < 3; i++) await am.postAlerts([latencyAlert('llm-api', llmStartsAt, iso(4 * 60_000 + i * 1000))]);
    // A second slow deployment in the same namespace changes the group {alertname, namespace}:
    // Alertmanager re-sends the whole group, llm-api included, at the next group_interval.
    await am.postAlerts([latencyAlert('llm-api', llmStartsAt, iso(4 * 60_000)), latencyAlert('llm-inference', iso(), iso(4 * 60_000))]);

    await amCounterAbove('alertmanager_notifications_total', sent0, 10_000);
    const other = await findRun((r) => r.target === 'deployment/ml-serving/llm-inference', 'a run for llm-inference');
    expect(await h.waitRun(other.id)).toMatchObject({ status: 'succeeded', changed: true });
    await poll(async () => ((await serviceMetric('remediator_alert_decisions_total', { rule: 'scale-slow-llm', decision: 'duplicate' })) >= 1 ? true : undefined), 10_000, 'llm-api decided duplicate');

    expect(await amCounter('alertmanager_notifications_failed_total')).toBe(failed0);
    expect(scalePatches('llm-api')).toHaveLength(1);
    expect(scalePatches('llm-inference')).toHaveLength(1);
    expect(await serviceMetric('remediator_alert_decisions_total', { rule: 'scale-slow-llm', decision: 'enqueued' })).toBe(2);
    const runs = await h.main.runs.list({ limit: 100 });
    expect(runs.filter((r) => r.target === 'deployment/ml-serving/llm-api')).toHaveLength(1);
  });

  it('(c) resolving the alerts delivers a resolved notification, which starts nothing', async () => {
    const sent0 = await amCounter('alertmanager_notifications_total');
    const runsBefore = (await h.main.runs.list({ limit: 100 })).length;
    await am.postAlerts([latencyAlert('llm-api', llmStartsAt, iso(-1000)), latencyAlert('llm-inference', iso(-30_000), iso(-1000))]);

    await poll(
      async () => ((await serviceMetric('remediator_alert_decisions_total', { rule: 'scale-slow-llm', decision: 'ignored_resolved' })) >= 2 ? true : undefined),
      15_000,
      'both resolutions decided ignored_resolved',
    );
    expect(await serviceMetric('remediator_alerts_received_total', { status: 'resolved' })).toBeGreaterThanOrEqual(2);
    expect(await amCounter('alertmanager_notifications_total')).toBeGreaterThan(sent0);
    // The finished run stays succeeded (only pending runs are cancelled); nothing new ran.
    const runs = await h.main.runs.list({ limit: 100 });
    expect(runs).toHaveLength(runsBefore);
    expect(runs.find((r) => r.target === 'deployment/ml-serving/llm-api')?.status).toBe('succeeded');
    expect(scalePatches('llm-api')).toHaveLength(1);
  });

  it('(d) while Redis is down Remediator answers 503 and Alertmanager retries; after recovery the OOM pod is evicted once', async () => {
    const requestsFailed0 = await amCounter('alertmanager_notification_requests_failed_total');
    const failed0 = await amCounter('alertmanager_notifications_failed_total');
    const evictionsBefore = evictions().length;
    expect(evictionsBefore).toBe(0);

    await h.redis.stop();
    await am.postAlerts([oomAlert(iso(), iso(4 * 60_000))]);

    // Every attempt of the flush fails (HTTP requests), and after the 10 s flush window
    // (max(group_interval, 10s)) the whole notification counts as failed.
    await amCounterAbove('alertmanager_notification_requests_failed_total', requestsFailed0, 10_000);
    await amCounterAbove('alertmanager_notifications_failed_total', failed0, 15_000);
    // Remediator answered 503, each within 1 s (the contract: within 2 s, never a hang).
    const text = (await h.get('/metrics')).text;
    const answered503 = metricValue(text, 'remediator_http_request_duration_seconds_count', { route: '/api/v1/alerts', method: 'POST', code: '503' });
    expect(answered503).toBeGreaterThanOrEqual(1);
    expect(metricValue(text, 'remediator_http_request_duration_seconds_bucket', { route: '/api/v1/alerts', method: 'POST', code: '503', le: '1' })).toBe(answered503);
    expect(am.output()).toMatch(/unexpected status code 503/);
    expect(evictions()).toHaveLength(0);

    await h.redis.start();
    const run = await findRun((r) => r.playbook === 'restart-oom-pod', 'the restart-oom-pod run after recovery');
    expect(run.trigger.alert?.labels.pod).toBe(OOM_POD);
    const done = await h.waitRun(run.id, undefined, 30_000);
    expect(done).toMatchObject({ status: 'succeeded', changed: true, target: 'deployment/ml-serving/llm-api' });
    expect(evictions()).toHaveLength(1);
    expect(am.output()).toMatch(/msg="Notify success" attempts=\d+/);

    // Alertmanager recorded the delivery; a later flush of the same group does not act again.
    const runs = (await h.main.runs.list({ limit: 100 })).filter((r) => r.playbook === 'restart-oom-pod');
    expect(runs).toHaveLength(1);
    expect(evictions()).toHaveLength(1);
  });
});
