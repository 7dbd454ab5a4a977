/**
 * README "Closing the loop" against Debian's real `prometheus` and `prometheus-alertmanager`. Prometheus
 * scrapes a small exporter whose values the test sets; Alertmanager delivers alerts to
 * Remediator's webhook (send_resolved off, so a resolution can only be learnt from its API).
 * Shown: a precheck that acts and one that skips; a hostile label value that Prometheus reads
 * back as exactly one string literal; verification by query resolved and not resolved; and
 * verification by Alertmanager's alert state resolved and not resolved, each with a silence in
 * Alertmanager that is expired when it ends.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Run } from '../../src/domain/run.js';
import { notification } from '../helpers/alerts.js';
import { ALERTMANAGER_BIN, onPath, startAlertmanager, type AlertmanagerHandle } from '../helpers/alertmanager-process.js';
import { ALERTMANAGER_TOKEN, startScenarioRig, waitTerminal, type ScenarioRig } from '../helpers/fault-rig.js';
import { PROMETHEUS_BIN, startPrometheus, type PrometheusHandle } from '../helpers/prometheus-process.js';
import { pollUntil } from '../helpers/sim-helpers.js';

const available = onPath(PROMETHEUS_BIN) && onPath(ALERTMANAGER_BIN);
const title = available
  ? 'e2e: precheck and verify against the real Prometheus and Alertmanager'
  : `e2e: precheck and verify — SKIPPED: ${PROMETHEUS_BIN} or ${ALERTMANAGER_BIN} is not on PATH (apt-get install prometheus prometheus-alertmanager)`;

const RULES = `
  - name: latency
    matchers: ['alertname="LLMHighLatencyP95"']
    playbook: scale-replicas
    params: { maxReplicas: 20, waitForReadySeconds: 20 }
    precheck: 'max(llm_p95_seconds{namespace="{{ labels.namespace }}", deployment="{{ labels.deployment }}"}) > 2'
    verify: { within: 5s, interval: 1s, query: 'max(llm_p95_seconds{deployment="{{ labels.deployment }}"}) > 2' }
  - name: echo
    matchers: ['alertname="EchoLabel"', 'team!=""']
    playbook: scale-replicas
    params: { maxReplicas: 20 }
    precheck: 'label_replace(vector(1), "echo", "{{ labels.team }}", "", "")'
  - name: saturation
    matchers: ['alertname="LLMRequestSaturation"']
    playbook: scale-replicas
    params: { maxReplicas: 20, waitForReadySeconds: 20 }
    verify: { within: 6s, interval: 1s, silence: true }
`;

describe.skipIf(!available)(title, () => {
  let rig: ScenarioRig;
  let prom: PrometheusHandle;
  let am: AlertmanagerHandle;
  let exporter: Server;
  const p95 = new Map<string, number>();
  let episode = 0;

  beforeAll(async () => {
    exporter = createServer((_req, res) => {
      const lines = ['# TYPE llm_p95_seconds gauge', ...[...p95].map(([d, v]) => `llm_p95_seconds{namespace="ml",deployment="${d}"} ${v}`)];
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
      res.end(`${lines.join('\n')}\n`);
    });
    await new Promise<void>((resolve) => exporter.listen(0, '127.0.0.1', () => resolve()));
    const exporterAt = `127.0.0.1:${(exporter.address() as AddressInfo).port}`;
    prom = await startPrometheus({
      config: () => `
global: { scrape_interval: 500ms, scrape_timeout: 500ms, evaluation_interval: 1s }
scrape_configs:
  - job_name: llm
    static_configs: [{ targets: ['${exporterAt}'] }]
`,
    });
    // Alertmanager needs Remediator's URL in its config, and Remediator Alertmanager's: a port picked first.
    const remediatorPort = await freePort();
    am = await startAlertmanager({
      files: { token: `${ALERTMANAGER_TOKEN}\n` },
      config: (dir) => `
route: { receiver: remediator, group_by: ['alertname', 'deployment'], group_wait: 500ms, group_interval: 1s, repeat_interval: 1h }
receivers:
  - name: remediator
    webhook_configs:
      - url: http://127.0.0.1:${remediatorPort}/api/v1/alerts
        send_resolved: false
        http_config: { authorization: { type: Bearer, credentials_file: ${dir}/token } }
`,
    });
    rig = await startScenarioRig({
      port: remediatorPort,
      options: {
        rules: RULES,
        extra: `prometheus: { url: '${prom.url}', timeoutSeconds: 2 }\nalertmanager: { url: '${am.url}', timeoutSeconds: 2 }\nui: { externalUrl: 'https://remediator.example.internal' }`,
      },
    });
  }, 90_000);

  afterAll(async () => {
    await rig?.stop();
    await am?.stop();
    await prom?.stop();
    await new Promise((resolve) => (exporter ? exporter.close(resolve) : resolve(undefined)));
  });

  const replicas = (name: string) => Number((rig.sim.get('Deployment', 'ml', name)?.spec as { replicas?: number }).replicas);

  /** Waits until Prometheus has scraped the exporter's current value for the deployment. */
  const scraped = (deployment: string, value: number) =>
    pollUntil(async () => ((await prom.query(`llm_p95_seconds{deployment="${deployment}"} == ${value}`)).length > 0 ? true : undefined), `Prometheus to scrape ${deployment}=${value}`, 15_000);

  async function fireDirect(labels: Record<string, string>): Promise<Run> {
    episode += 1;
    const res = await fetch(`${rig.main.url}/api/v1/alerts`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${ALERTMANAGER_TOKEN}` },
      body: JSON.stringify(notification([{ labels, startsAt: new Date(Date.now() - episode).toISOString() }])),
    });
    const decision = ((await res.json()) as { decisions: { decision: string; runId?: string }[] }).decisions[0]!;
    expect(decision.decision).toBe('enqueued');
    return waitTerminal(rig.main, decision.runId!, 30_000);
  }

  const verified = (runId: string, timeoutMs = 20_000) =>
    pollUntil(async () => {
      const run = await rig.main.runs.get(runId);
      return run?.verification && run.verification.result !== 'pending' ? run : undefined;
    }, `run ${runId}'s verification to end`, timeoutMs);

  it('precheck true acts; verification by query resolved once the metric falls', async () => {
    p95.set('web', 3.4);
    await scraped('web', 3.4);
    const before = replicas('web');
    const run = await fireDirect({ alertname: 'LLMHighLatencyP95', namespace: 'ml', deployment: 'web' });
    expect(run.status).toBe('succeeded');
    expect(replicas('web')).toBe(before + 1);
    expect(run.precheck).toMatchObject({ result: 'pass', query: 'max(llm_p95_seconds{namespace="ml", deployment="web"}) > 2' });
    p95.set('web', 0.8);
    const done = await verified(run.id);
    expect(done.verification).toMatchObject({ result: 'resolved', detail: 'the query returns nothing' });
  });

  it('precheck false skips without a mutation', async () => {
    p95.set('llm', 0.5);
    await scraped('llm', 0.5);
    const before = replicas('llm');
    const run = await fireDirect({ alertname: 'LLMHighLatencyP95', namespace: 'ml', deployment: 'llm' });
    expect(run.status).toBe('skipped');
    expect(run.precheck).toMatchObject({ result: 'fail', detail: 'empty result' });
    expect(replicas('llm')).toBe(before);
  });

  it('a hostile label value reaches Prometheus as exactly one string literal', async () => {
    const team = 'ml"} or vector(1) # \\ \n}';
    const run = await fireDirect({ alertname: 'EchoLabel', team, namespace: 'ml', deployment: 'oomy' });
    expect(run.precheck?.result).toBe('pass');
    // Prometheus itself parses the query the run sent: the label it builds holds the value, whole.
    const [sample] = await prom.query(run.precheck!.query);
    expect(sample!.metric).toEqual({ echo: team });
  });

  it('verification by query: not resolved when the metric stays high', async () => {
    p95.set('web', 5);
    await scraped('web', 5);
    const run = await fireDirect({ alertname: 'LLMHighLatencyP95', namespace: 'ml', deployment: 'web' });
    expect(run.status).toBe('succeeded');
    const done = await verified(run.id);
    expect(done.verification!.result).toBe('not_resolved');
    expect(done.verification!.detail).toContain('the query still returns 1 sample');
  });

  it('verification by Alertmanager: resolved when the alert stops firing; its silence expired', async () => {
    const labels = { alertname: 'LLMRequestSaturation', namespace: 'ml', deployment: 'web', severity: 'warning' };
    const startsAt = new Date().toISOString();
    await am.postAlerts([{ labels, startsAt, endsAt: new Date(Date.now() + 600_000).toISOString() }]);
    const runId = await pollUntil(async () => (await rig.main.runs.list({ limit: 50 })).find((r) => r.trigger.rule === 'saturation' && r.target === 'deployment/ml/web')?.id, 'Alertmanager to deliver the alert', 20_000);
    const run = await waitTerminal(rig.main, runId, 30_000);
    expect(run.status).toBe('succeeded');
    const silence = await pollUntil(async () => (await silences(am.url)).find((s) => s.comment.includes(runId)), 'the silence in Alertmanager', 10_000);
    expect(silence.status.state).toBe('active');
    expect(silence.createdBy).toBe('remediator');
    expect(silence.comment).toContain(`https://remediator.example.internal/ui/#/runs/${runId}`);
    // While silenced the alert still fires (its state is suppressed): the check must not count that as resolved.
    await pollUntil(async () => ((await rig.main.runs.get(runId))?.verification?.checks ?? 0) >= 1 || undefined, 'a first check', 10_000);
    expect((await rig.main.runs.get(runId))!.verification!.result).toBe('pending');
    await am.postAlerts([{ labels, startsAt, endsAt: new Date(Date.now() - 1000).toISOString() }]);
    const done = await verified(runId);
    expect(done.verification!.result).toBe('resolved');
    expect(done.verification!.detail).toContain('Alertmanager no longer lists the alert as firing');
    expect((await silences(am.url)).find((s) => s.id === silence.id)!.status.state).toBe('expired');
  });

  it('verification by Alertmanager: not resolved while the alert keeps firing; its silence expired', async () => {
    const labels = { alertname: 'LLMRequestSaturation', namespace: 'ml', deployment: 'llm', severity: 'warning' };
    const startsAt = new Date().toISOString();
    await am.postAlerts([{ labels, startsAt, endsAt: new Date(Date.now() + 600_000).toISOString() }]);
    const runId = await pollUntil(async () => (await rig.main.runs.list({ limit: 50 })).find((r) => r.trigger.rule === 'saturation' && r.target === 'deployment/ml/llm')?.id, 'Alertmanager to deliver the alert', 20_000);
    const done = await verified(runId, 30_000);
    expect(done.verification!.result).toBe('not_resolved');
    // Silenced alerts still fire; Alertmanager marks them suppressed once its pipeline has seen the silence.
    expect(done.verification!.detail).toMatch(/Alertmanager lists the alert as (active|suppressed) at the deadline/);
    const silence = (await silences(am.url)).find((s) => s.comment.includes(runId))!;
    expect(silence.status.state).toBe('expired');
  });
});

async function silences(url: string): Promise<{ id: string; comment: string; createdBy: string; status: { state: string } }[]> {
  return (await (await fetch(`${url}/api/v2/silences`)).json()) as { id: string; comment: string; createdBy: string; status: { state: string } }[];
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.address() as AddressInfo).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}
