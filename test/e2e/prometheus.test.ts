/**
 * End to end with the real Prometheus (Debian's `prometheus`): it scrapes Remediator's /metrics
 * every second and evaluates deploy/prometheus/rules.yml against what it scraped. Proves the
 * exposition is valid for a real Prometheus and that the series and labels the shipped rules
 * and dashboards select on exist.
 */
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, fixture, poll, type Harness } from '../helpers/harness.js';
import { metricValue } from '../helpers/metrics-text.js';
import { onPath, runTool, startPrometheus, PROMETHEUS_BIN, PROMTOOL_BIN, type PrometheusHandle, type PromSample } from '../helpers/prometheus-process.js';

const RULES_FILE = fileURLToPath(new URL('../../deploy/prometheus/rules.yml', import.meta.url));

const available = onPath(PROMETHEUS_BIN);
const title = available
  ? 'e2e: real Prometheus scraping Remediator and evaluating deploy/prometheus/rules.yml'
  : `e2e: real Prometheus — SKIPPED: ${PROMETHEUS_BIN} is not on PATH (apt-get install prometheus)`;

describe.skipIf(!available)(title, () => {
  let h: Harness;
  let prom: PrometheusHandle;
  let instance: string;
  let rulesLoaded = false;

  /** Polls an instant query until it returns at least one sample. */
  const queryUntil = (expr: string, timeoutMs = 20_000): Promise<PromSample[]> =>
    poll(async () => {
      const result = await prom.query(expr);
      return result.length > 0 ? result : undefined;
    }, timeoutMs, `Prometheus query ${expr} to return data`);

  beforeAll(async () => {
    h = await startHarness();
    instance = new URL(h.main.url).host;
    // Load the shipped rules only if they load standalone (they must: promtool is part of CI).
    rulesLoaded = onPath(PROMTOOL_BIN) && runTool(PROMTOOL_BIN, ['check', 'rules', RULES_FILE]).ok;
    prom = await startPrometheus({
      ruleFiles: rulesLoaded ? [RULES_FILE] : [],
      // job_name as in deploy/prometheus/prometheus.yml: the remediator-self rules select on it.
      config: () => `
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files: [${rulesLoaded ? 'rules.yml' : ''}]
scrape_configs:
  - job_name: remediator-api
    metrics_path: /metrics
    static_configs:
      - targets: ['${instance}']
`,
    });
  });

  afterAll(async () => {
    await prom?.stop();
    await h?.stop();
  });

  it('the shipped rules and the generated config pass promtool', () => {
    if (!onPath(PROMTOOL_BIN)) return;
    const rules = runTool(PROMTOOL_BIN, ['check', 'rules', RULES_FILE]);
    expect(rules.output).toMatch(/SUCCESS: \d+ rules found/);
    expect(rules.ok).toBe(true);
    expect(rulesLoaded).toBe(true);
    const config = runTool(PROMTOOL_BIN, ['check', 'config', prom.configFile], prom.dir);
    expect(config.output).toMatch(/SUCCESS/);
    expect(config.ok).toBe(true);
  });

  it('scrapes the service: the target is up with no scrape error', async () => {
    const target = await poll(async () => {
      const targets = await prom.activeTargets();
      return targets.find((t) => t.labels.job === 'remediator-api' && t.health === 'up');
    }, 20_000, 'target remediator-api to be up');
    expect(target.scrapeUrl).toBe(`${h.main.url}/metrics`);
    expect(target.labels.instance).toBe(instance);
    expect(target.lastError).toBe('');
    const [up] = await queryUntil('up{job="remediator-api"}');
    expect(up!.value[1]).toBe('1');
    // Pre-initialised series (docs/metrics.md) arrive before any alert did.
    const samples = await queryUntil('scrape_samples_scraped{job="remediator-api"}');
    expect(Number(samples[0]!.value[1])).toBeGreaterThan(100);
  });

  it('one notification through the service shows up in Prometheus with the right labels', async () => {
    const res = await h.post(fixture('firing-llm-high-latency-p95').body);
    expect(res.status).toBe(200);
    expect(res.body.decisions).toMatchObject([{ rule: 'scale-slow-llm', decision: 'enqueued' }]);
    const run = await h.waitRun(res.body.decisions[0].runId);
    expect(run.status).toBe('succeeded');

    const decisions = await queryUntil('remediator_alert_decisions_total{decision="enqueued"} > 0');
    expect(decisions).toHaveLength(1);
    expect(decisions[0]!.metric).toEqual({ __name__: 'remediator_alert_decisions_total', job: 'remediator-api', instance, rule: 'scale-slow-llm', decision: 'enqueued' });
    expect(decisions[0]!.value[1]).toBe('1');

    const runs = await queryUntil('remediator_runs_total{status="succeeded"} > 0');
    expect(runs).toHaveLength(1);
    expect(runs[0]!.metric).toEqual({ __name__: 'remediator_runs_total', job: 'remediator-api', instance, playbook: 'scale-replicas', source: 'alert', status: 'succeeded' });
    expect(runs[0]!.value[1]).toBe('1');

    const received = await queryUntil('remediator_alerts_received_total{status="firing"} > 0');
    expect(received[0]!.value[1]).toBe('1');
    const actions = await queryUntil('remediator_actions_total{action="scale", result="ok"} > 0');
    expect(actions[0]!.metric).toMatchObject({ playbook: 'scale-replicas' });
    // Histograms are usable as such: a quantile over the run-duration buckets is a number.
    const quantile = await queryUntil('histogram_quantile(0.5, sum by (le) (remediator_run_duration_seconds_bucket{playbook="scale-replicas", status="succeeded"}))');
    expect(Number.isFinite(Number(quantile[0]!.value[1]))).toBe(true);
    // The selectors the RemediatorWebhook* rules use match the webhook's own series.
    const webhook = await queryUntil('remediator_http_request_duration_seconds_count{route="/api/v1/alerts", method="POST", code="200"} > 0');
    expect(Number(webhook[0]!.value[1])).toBeGreaterThanOrEqual(1);

    // Prometheus accepted every sample: no duplicate series or timestamp problems in the exposition.
    const own = await prom.metrics();
    for (const name of ['prometheus_target_scrapes_sample_duplicate_timestamp_total', 'prometheus_target_scrapes_sample_out_of_order_total', 'prometheus_target_scrapes_sample_out_of_bounds_total']) {
      expect(metricValue(own, name), name).toBe(0);
    }
  });

  it('evaluates every shipped rule without error against the scraped series', async () => {
    expect(rulesLoaded).toBe(true);
    const groups = await poll(async () => {
      const g = await prom.ruleGroups();
      const rules = g.flatMap((x) => x.rules);
      return rules.length > 0 && rules.every((r) => r.health !== 'unknown') ? g : undefined;
    }, 15_000, 'every rule evaluated once');
    expect(groups.map((g) => g.name).sort()).toEqual(['remediator-gpu', 'remediator-llm-serving', 'remediator-pods', 'remediator-self']);
    const found = /SUCCESS: (\d+) rules found/.exec(runTool(PROMTOOL_BIN, ['check', 'rules', RULES_FILE]).output);
    expect(groups.flatMap((g) => g.rules)).toHaveLength(Number(found?.[1]));
    const rules = groups.flatMap((g) => g.rules);
    for (const rule of rules) expect({ rule: rule.name, health: rule.health, lastError: rule.lastError ?? '' }).toEqual({ rule: rule.name, health: 'ok', lastError: '' });
    // Against real data: the api target is up, so RemediatorApiDown stays inactive, while no
    // remediator-worker job exists here, so RemediatorWorkersDown is pending (for: 5m).
    const byName = new Map(rules.map((r) => [r.name, r]));
    expect(byName.get('RemediatorApiDown')?.state).toBe('inactive');
    expect(byName.get('RemediatorWorkersDown')?.state).toBe('pending');
    expect(byName.get('RemediatorRunsFailing')?.state).toBe('inactive');
  });
});
