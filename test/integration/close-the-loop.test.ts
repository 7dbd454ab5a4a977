/**
 * README "Closing the loop" against servers that answer like Prometheus's query API and Alertmanager API v2:
 * prechecks that act or skip (false, error, unreachable), label values that cannot change a
 * query's shape, verification each way (resolved, not resolved, error) with a silence created
 * and expired, dry runs that stop after the precheck, and manual prechecks.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Run } from '../../src/domain/run.js';
import { SimPrometheus } from '../../src/sim/sim-prometheus.js';
import { notification } from '../helpers/alerts.js';
import { FakeAlertmanager } from '../helpers/fake-alertmanager.js';
import { ALERTMANAGER_TOKEN, OPERATOR_TOKEN, startScenarioRig, waitTerminal, type ScenarioRig } from '../helpers/fault-rig.js';
import { metricValue } from '../helpers/metrics-text.js';
import { pollUntil } from '../helpers/sim-helpers.js';

const P95 = (deployment: string) => `llm_p95{namespace="ml", deployment="${deployment}"} > 2`;
const RULES = `
  - name: latency
    matchers: ['alertname="LLMHighLatencyP95"']
    playbook: scale-replicas
    params: { maxReplicas: 8, waitForReadySeconds: 20 }
    precheck: 'llm_p95{namespace="{{ labels.namespace }}", deployment="{{ labels.deployment }}"} > 2'
    verify: { within: 3s, interval: 500ms, query: 'llm_p95_after{deployment="{{ labels.deployment }}"} > 2' }
  - name: hostile
    matchers: ['alertname="HostileLabels"', 'team!=""']
    playbook: scale-replicas
    params: { maxReplicas: 8 }
    precheck: 'llm_p95{team="{{ labels.team }}"} > 2'
  - name: saturation
    matchers: ['alertname="LLMRequestSaturation"']
    playbook: scale-replicas
    params: { maxReplicas: 8, waitForReadySeconds: 20 }
    verify: { within: 4s, interval: 500ms, silence: true }
  - name: shadow
    matchers: ['alertname="ShadowLatency"']
    playbook: scale-replicas
    params: { maxReplicas: 8 }
    dryRun: true
    precheck: 'llm_p95{namespace="{{ labels.namespace }}", deployment="{{ labels.deployment }}"} > 2'
    verify: { within: 3s, query: 'llm_p95_after{deployment="{{ labels.deployment }}"} > 2' }
  - name: cooled
    matchers: ['alertname="CooledLatency"']
    playbook: scale-replicas
    params: { maxReplicas: 8, waitForReadySeconds: 20 }
    cooldown: 1h
    precheck: 'cooled_p95{deployment="{{ labels.deployment }}"} > 2'
  - name: needs-hostname
    matchers: ['alertname="GPUNodeOverheating"']
    playbook: drain-gpu-node
    precheck: 'DCGM_FI_DEV_GPU_TEMP{Hostname="{{ labels.Hostname }}"} > 85'
`;

const PROM_SECRET = 'prom-bearer-secret-5f1e2d3c';
const AM_SECRET = 'am-basic-password-9a8b7c6d';
/** Every log line of the run, at debug level: no secret may appear in any. */
const logLines: string[] = [];

let rig: ScenarioRig;
let prom: SimPrometheus;
let am: FakeAlertmanager;
let episode = 0;

async function fire(labels: Record<string, string>): Promise<{ decision: string; runId?: string; reason?: string }> {
  episode += 1;
  const startsAt = new Date(Date.UTC(2026, 11, 7, 10, 0, episode)).toISOString();
  const res = await fetch(`${rig.main.url}/api/v1/alerts`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${ALERTMANAGER_TOKEN}` },
    body: JSON.stringify(notification([{ labels, startsAt }])),
  });
  expect(res.status).toBe(200);
  const body = (await res.json()) as { decisions: { decision: string; runId?: string; reason?: string }[] };
  return body.decisions[0]!;
}

async function fireAndFinish(labels: Record<string, string>): Promise<Run> {
  const decision = await fire(labels);
  expect(decision.decision).toBe('enqueued');
  return waitTerminal(rig.main, decision.runId!, 30_000);
}

/** The run once its verification has an outcome. */
function verificationEnded(runId: string, timeoutMs: number): Promise<Run> {
  return pollUntil(async () => {
    const r = await rig.main.runs.get(runId);
    return r?.verification?.result !== 'pending' ? r : undefined;
  }, 'verification to end', timeoutMs);
}

async function auditOf(runId: string): Promise<Record<string, unknown>[]> {
  const res = await fetch(`${rig.main.url}/api/v1/audit?runId=${runId}&limit=100`, { headers: { authorization: `Bearer ${OPERATOR_TOKEN}` } });
  return ((await res.json()) as { items: Record<string, unknown>[] }).items.reverse();
}

function replicas(name: string): number {
  return Number((rig.sim.get('Deployment', 'ml', name)?.spec as { replicas?: number }).replicas);
}

async function metric(name: string, labels: Record<string, string>): Promise<number> {
  const text = await (await fetch(`${rig.main.url}/metrics`)).text();
  return metricValue(text, name, labels) ?? NaN;
}

beforeAll(async () => {
  prom = new SimPrometheus();
  await prom.start();
  am = new FakeAlertmanager();
  await am.start();
  const secrets = mkdtempSync(join(tmpdir(), 'remediator-secrets-'));
  writeFileSync(join(secrets, 'prom-token'), PROM_SECRET);
  writeFileSync(join(secrets, 'am-password'), AM_SECRET);
  rig = await startScenarioRig({
    logger: pino({ level: 'debug' }, { write: (line: string) => void logLines.push(line) }),
    options: {
      rules: RULES,
      extra: [
        `prometheus: { url: '${prom.url}', timeoutSeconds: 1, retries: 2, bearerTokenFile: '${secrets}/prom-token' }`,
        `alertmanager: { url: '${am.url}', timeoutSeconds: 1, retries: 1, basicAuth: { username: remediator, passwordFile: '${secrets}/am-password' } }`,
        `ui: { externalUrl: 'https://remediator.example.internal/' }`,
      ].join('\n'),
    },
  });
}, 60_000);

afterAll(async () => {
  await rig?.stop();
  await prom?.close();
  await am?.close();
});

describe('precheck', () => {
  it('acts when the query returns a result, and records query and result on the run and in the audit log', async () => {
    prom.set(P95('web'), [{ metric: { deployment: 'web' }, value: 3.5 }]);
    const before = replicas('web');
    const run = await fireAndFinish({ alertname: 'LLMHighLatencyP95', namespace: 'ml', deployment: 'web' });
    expect(run.status).toBe('succeeded');
    expect(run.changed).toBe(true);
    expect(replicas('web')).toBe(before + 1);
    expect(run.precheck).toMatchObject({ query: P95('web'), result: 'pass', detail: '1 sample: {deployment="web"} 3.5' });
    expect(prom.received.map((r) => r.query)).toContain(P95('web'));
    const precheck = (await auditOf(run.id)).find((e) => e.type === 'precheck');
    expect(precheck).toMatchObject({ query: P95('web'), result: 'pass' });
    expect(await metric('remediator_prechecks_total', { playbook: 'scale-replicas', result: 'pass' })).toBeGreaterThanOrEqual(1);
  });

  it('skips when the query returns nothing: no mutation, audited', async () => {
    prom.set(P95('llm'), []);
    const before = replicas('llm');
    const run = await fireAndFinish({ alertname: 'LLMHighLatencyP95', namespace: 'ml', deployment: 'llm' });
    expect(run.status).toBe('skipped');
    expect(run.reason).toBe('precheck false: the condition no longer holds');
    expect(run.steps.filter((s) => s.action === 'scale')).toEqual([]);
    expect(replicas('llm')).toBe(before);
    expect((await auditOf(run.id)).find((e) => e.type === 'precheck')).toMatchObject({ query: P95('llm'), result: 'fail', detail: 'empty result' });
    expect(await metric('remediator_prechecks_total', { playbook: 'scale-replicas', result: 'fail' })).toBeGreaterThanOrEqual(1);
  });

  it('skips when Prometheus keeps answering 500 (after its retries), never acting blind', async () => {
    prom.set(P95('llm'), [{ metric: {}, value: 9 }]);
    prom.injectFault({ status: 500, times: 3, query: P95('llm') });
    const before = replicas('llm');
    const run = await fireAndFinish({ alertname: 'LLMHighLatencyP95', namespace: 'ml', deployment: 'llm' });
    expect(run.status).toBe('skipped');
    expect(run.precheck?.result).toBe('error');
    expect(run.reason).toContain('precheck could not be evaluated, so nothing was done (never act blind)');
    expect(run.reason).toContain('500 Internal Server Error: injected 500 (gave up after 3 attempts)');
    expect(replicas('llm')).toBe(before);
    expect((await auditOf(run.id)).find((e) => e.type === 'precheck')).toMatchObject({ result: 'error' });
  });

  it('skips when Prometheus is unreachable', async () => {
    const port = Number(new URL(prom.url).port);
    await prom.close();
    try {
      const run = await fireAndFinish({ alertname: 'LLMHighLatencyP95', namespace: 'ml', deployment: 'llm' });
      expect(run.status).toBe('skipped');
      expect(run.precheck).toMatchObject({ result: 'error' });
      expect(run.precheck?.detail).toContain('unreachable (ECONNREFUSED)');
    } finally {
      await prom.start(port);
    }
  });

  it('a label value with ", \\, } or a newline cannot change the query Prometheus receives', async () => {
    const team = 'x"} or vector(1) or up{a="\\\n}';
    const run = await fireAndFinish({ alertname: 'HostileLabels', team, namespace: 'ml', deployment: 'web' });
    const expected = 'llm_p95{team="x\\"} or vector(1) or up{a=\\"\\\\\\n}"} > 2';
    expect(prom.received.at(-1)!.query).toBe(expected);
    expect(run.precheck?.query).toBe(expected);
    // The whole value is one label matcher's literal, so the sim (which knows no such series) says nothing.
    expect(run.status).toBe('skipped');
  });

  it('a run its precheck skipped does not start the cooldown; one that acted does', async () => {
    const labels = { alertname: 'CooledLatency', namespace: 'ml', deployment: 'llm' };
    prom.set('cooled_p95{deployment="llm"} > 2', []);
    expect((await fireAndFinish(labels)).status).toBe('skipped');
    prom.set('cooled_p95{deployment="llm"} > 2', [{ metric: {}, value: 3 }]);
    const acted = await fireAndFinish(labels);
    expect(acted.status).toBe('succeeded');
    const third = (await fire(labels)) as { decision: string; guard?: string; runId?: string };
    const guard = third.decision === 'blocked' ? third.guard : (await waitTerminal(rig.main, third.runId!, 30_000)).guard?.guard;
    expect(guard).toBe('cooldown');
  });

  it('an alert without a label the precheck reads is invalid_params', async () => {
    const decision = await fire({ alertname: 'GPUNodeOverheating', node: 'gpu-b' });
    expect(decision).toMatchObject({ decision: 'invalid_params', reason: 'rule needs-hostname needs label Hostname (its precheck reads it); the alert has alertname, node' });
  });
});

describe('verify', () => {
  it('resolved: the query returns nothing after the run', async () => {
    prom.set(P95('web'), [{ metric: {}, value: 3 }]);
    prom.set('llm_p95_after{deployment="web"} > 2', []);
    const run = await fireAndFinish({ alertname: 'LLMHighLatencyP95', namespace: 'ml', deployment: 'web' });
    expect(run.status).toBe('succeeded');
    expect(run.verification?.result).toBe('pending');
    const verified = await verificationEnded(run.id, 10_000);
    expect(verified.verification).toMatchObject({ result: 'resolved', detail: 'the query returns nothing', query: 'llm_p95_after{deployment="web"} > 2', checks: 1 });
    const entries = (await auditOf(run.id)).filter((e) => e.type === 'verification');
    expect(entries.map((e) => e.result)).toEqual(['scheduled', 'resolved']);
    expect(await metric('remediator_verifications_total', { playbook: 'scale-replicas', result: 'resolved' })).toBeGreaterThanOrEqual(1);
  });

  it('not_resolved: the query still returns a result at the deadline', async () => {
    prom.set(P95('web'), [{ metric: {}, value: 3 }]);
    prom.set('llm_p95_after{deployment="web"} > 2', [{ metric: { deployment: 'web' }, value: 4 }]);
    const run = await fireAndFinish({ alertname: 'LLMHighLatencyP95', namespace: 'ml', deployment: 'web' });
    const verified = await verificationEnded(run.id, 15_000);
    expect(verified.verification!.result).toBe('not_resolved');
    expect(verified.verification!.detail).toContain('the query still returns 1 sample: {deployment="web"} 4 at the deadline');
    expect(verified.verification!.checks).toBeGreaterThanOrEqual(3);
    expect(Date.parse(verified.verification!.at)).toBeGreaterThanOrEqual(Date.parse(run.verification!.deadline));
    expect(await metric('remediator_verifications_total', { playbook: 'scale-replicas', result: 'not_resolved' })).toBeGreaterThanOrEqual(1);
  });

  it('error: Prometheus does not answer until the deadline', async () => {
    prom.set(P95('web'), [{ metric: {}, value: 3 }]);
    const run = await fireAndFinish({ alertname: 'LLMHighLatencyP95', namespace: 'ml', deployment: 'web' });
    prom.injectFault({ status: 503, times: 10_000, query: 'llm_p95_after{deployment="web"} > 2' });
    try {
      const verified = await verificationEnded(run.id, 15_000);
      expect(verified.verification!.result).toBe('error');
      expect(verified.verification!.detail).toContain('503 Service Unavailable');
    } finally {
      prom.clearFaults();
    }
  });

  it('resolved: a resolved notification for the episode counts, whatever the query says', async () => {
    prom.set(P95('web'), [{ metric: {}, value: 3 }]);
    prom.set('llm_p95_after{deployment="web"} > 2', [{ metric: {}, value: 3 }]);
    const labels = { alertname: 'LLMHighLatencyP95', namespace: 'ml', deployment: 'web' };
    const run = await fireAndFinish(labels);
    expect(run.status).toBe('succeeded');
    const res = await fetch(`${rig.main.url}/api/v1/alerts`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${ALERTMANAGER_TOKEN}` },
      body: JSON.stringify(notification([{ labels, startsAt: run.trigger.alert!.startsAt, status: 'resolved' }])),
    });
    expect(res.status).toBe(200);
    const verified = await verificationEnded(run.id, 10_000);
    expect(verified.verification).toMatchObject({ result: 'resolved', detail: 'Alertmanager sent a resolved notification for the alert' });
  });

  it('through Alertmanager, with a silence carrying the run link that is expired when the alert resolves', async () => {
    const labels = { alertname: 'LLMRequestSaturation', namespace: 'ml', deployment: 'web' };
    am.fire(labels);
    const run = await fireAndFinish(labels);
    expect(run.status).toBe('succeeded');
    const silence = await pollUntil(() => [...am.silences.values()].find((s) => s.comment.includes(run.id)), 'the silence', 5000);
    expect(silence).toMatchObject({ createdBy: 'remediator', state: 'active' });
    expect(silence.comment).toContain(`https://remediator.example.internal/ui/#/runs/${run.id}`);
    expect(Object.fromEntries(silence.matchers.map((m) => [m.name, m.value]))).toMatchObject(labels);
    expect(Date.parse(silence.endsAt) - Date.parse(silence.startsAt)).toBeLessThanOrEqual(4000 + 1000);
    // Still firing for a while: the verification keeps checking.
    await pollUntil(async () => ((await rig.main.runs.get(run.id))?.verification?.checks ?? 0) >= 1 || undefined, 'a first check', 5000);
    am.resolve(labels);
    const verified = await verificationEnded(run.id, 10_000);
    expect(verified.verification!.result).toBe('resolved');
    expect(verified.verification!.detail).toContain('Alertmanager no longer lists the alert as firing');
    expect(verified.verification!.detail).toContain(`silence ${silence.id} expired`);
    expect(am.silences.get(silence.id)!.state).toBe('expired');
  });
});

describe('secrets', () => {
  it('are sent to Prometheus and Alertmanager, and appear in no log line', () => {
    expect(prom.received.every((r) => r.authorization === `Bearer ${PROM_SECRET}`)).toBe(true);
    expect(am.authorizations.every((a) => a === `Basic ${Buffer.from(`remediator:${AM_SECRET}`).toString('base64')}`)).toBe(true);
    expect(am.authorizations.length).toBeGreaterThan(0);
    expect(logLines.length).toBeGreaterThan(50);
    const leaks = logLines.filter((line) => line.includes(PROM_SECRET) || line.includes(AM_SECRET) || line.includes(Buffer.from(`remediator:${AM_SECRET}`).toString('base64')));
    expect(leaks).toEqual([]);
  });
});

describe('dry runs and manual runs', () => {
  it('a shadow-mode rule evaluates the precheck and stops there: no health wait, no verification', async () => {
    prom.set(P95('oomy'), [{ metric: {}, value: 3 }]);
    const before = replicas('oomy');
    const run = await fireAndFinish({ alertname: 'ShadowLatency', namespace: 'ml', deployment: 'oomy' });
    expect(run).toMatchObject({ status: 'succeeded', dryRun: true, changed: false });
    expect(run.precheck?.result).toBe('pass');
    expect(run.verification).toBeUndefined();
    expect(run.health).toBeUndefined();
    expect(replicas('oomy')).toBe(before);
  });

  it('a manual run carries an explicit precheck, without placeholders', async () => {
    const post = (body: object) =>
      fetch(`${rig.main.url}/api/v1/runs`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${OPERATOR_TOKEN}` }, body: JSON.stringify(body) });
    const base = { playbook: 'scale-replicas', params: { namespace: 'ml', name: 'llm', step: 1, maxReplicas: 8 }, reason: 'test' };
    const refused = await post({ ...base, precheck: 'up{node="{{ labels.node }}"}' });
    expect(refused.status).toBe(400);
    expect(((await refused.json()) as { details: { path: string }[] }).details.map((d) => d.path)).toEqual(['precheck']);
    prom.set('manual_check > 0', []);
    const res = await post({ ...base, precheck: 'manual_check > 0' });
    expect(res.status).toBe(202);
    const run = await waitTerminal(rig.main, ((await res.json()) as { id: string }).id, 30_000);
    expect({ status: run.status, reason: run.reason, precheck: run.precheck }).toMatchObject({ status: 'skipped', precheck: { query: 'manual_check > 0', result: 'fail' } });
  });
});
