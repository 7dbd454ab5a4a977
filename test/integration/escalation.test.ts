/**
 * README "Closing the loop" escalate, on the simulated cluster with a Prometheus stand-in: a verification that
 * ends not resolved creates the follow-up run (awaiting approval, linked both ways) and holds the
 * target for the rule until an operator acks; a rule repeating on one target (afterRepeats)
 * escalates the same way; a verification that cannot decide only notifies and holds nothing.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Run } from '../../src/domain/run.js';
import { SimPrometheus } from '../../src/sim/sim-prometheus.js';
import { notification } from '../helpers/alerts.js';
import { ALERTMANAGER_TOKEN, OPERATOR_TOKEN, startScenarioRig, waitTerminal, type ScenarioRig } from '../helpers/fault-rig.js';
import { metricValue } from '../helpers/metrics-text.js';
import { pollUntil } from '../helpers/sim-helpers.js';
import { NotificationReceiver } from '../helpers/notification-receiver.js';

const HOOK_SECRET = 'hook-hmac-secret-7c2e';
const RULES = `
  - name: latency
    matchers: ['alertname="LLMHighLatencyP95"']
    playbook: scale-replicas
    params: { maxReplicas: 12, waitForReadySeconds: 20 }
    verify: { within: 2s, interval: 500ms, query: 'still_slow{deployment="{{ labels.deployment }}"} > 0' }
    notify: [hook]
    escalate:
      notify: [hook]
      playbook: { name: scale-replicas, params: { step: 2, maxReplicas: 12, waitForReadySeconds: 20 } }
  - name: quiet
    matchers: ['alertname="Quiet"']
    playbook: scale-replicas
    params: { maxReplicas: 30, waitForReadySeconds: 0 }
  - name: noisy
    matchers: ['alertname="Noisy"']
    playbook: scale-replicas
    params: { maxReplicas: 30, waitForReadySeconds: 0 }
    notify: [stuck, stuck-too]
  - name: flapping
    matchers: ['alertname="Flapping"']
    playbook: scale-replicas
    params: { maxReplicas: 20, waitForReadySeconds: 20 }
    escalate:
      afterRepeats: { count: 3, within: 1h }
      playbook: { name: scale-replicas, params: { step: 3, maxReplicas: 20, waitForReadySeconds: 20 }, approval: none }
`;

let rig: ScenarioRig;
let prom: SimPrometheus;
let receiver: NotificationReceiver;
let episode = 0;

async function fire(labels: Record<string, string>): Promise<{ decision: string; runId?: string; guard?: string }> {
  episode += 1;
  const res = await fetch(`${rig.main.url}/api/v1/alerts`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${ALERTMANAGER_TOKEN}` },
    body: JSON.stringify(notification([{ labels, startsAt: new Date(Date.UTC(2026, 11, 7, 11, 0, episode)).toISOString() }])),
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { decisions: { decision: string; runId?: string; guard?: string }[] }).decisions[0]!;
}

async function post(path: string, body: object): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${rig.main.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${OPERATOR_TOKEN}` }, body: JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function auditOf(runId: string): Promise<Record<string, unknown>[]> {
  const res = await fetch(`${rig.main.url}/api/v1/audit?runId=${runId}&limit=100`, { headers: { authorization: `Bearer ${OPERATOR_TOKEN}` } });
  return ((await res.json()) as { items: Record<string, unknown>[] }).items.reverse();
}

const replicas = (name: string) => Number((rig.sim.get('Deployment', 'ml', name)?.spec as { replicas?: number }).replicas);

/** A run that is blocked by `escalated` at intake or, when its target had to be resolved first, at execution. */
async function blockedGuard(decision: { decision: string; runId?: string; guard?: string }): Promise<string | undefined> {
  if (decision.decision === 'blocked') return decision.guard;
  return (await waitTerminal(rig.main, decision.runId!, 30_000)).guard?.guard;
}

beforeAll(async () => {
  prom = new SimPrometheus();
  await prom.start();
  receiver = await NotificationReceiver.start();
  receiver.expectSignature('/hook', HOOK_SECRET);
  receiver.script('/stuck', ['hang']);
  receiver.script('/stuck-too', ['hang']);
  const secrets = mkdtempSync(join(tmpdir(), 'remediator-hook-'));
  writeFileSync(join(secrets, 'hook-secret'), `${HOOK_SECRET}\n`);
  rig = await startScenarioRig({
    options: {
      rules: RULES,
      extra: [
        `prometheus: { url: '${prom.url}', timeoutSeconds: 1, retries: 0 }`,
        `ui: { externalUrl: 'https://remediator.example.internal' }`,
        'notifications:',
        `  - { name: hook, type: webhook, url: '${receiver.url('/hook')}', secretFile: '${secrets}/hook-secret' }`,
        `  - { name: stuck, type: slack, url: '${receiver.url('/stuck')}', timeoutSeconds: 30 }`,
        `  - { name: stuck-too, type: webhook, url: '${receiver.url('/stuck-too')}', secretFile: '${secrets}/hook-secret', timeoutSeconds: 30 }`,
      ].join('\n'),
    },
  });
}, 60_000);

afterAll(async () => {
  await receiver?.close();
  await rig?.stop();
  await prom?.close();
});

/** The webhook notifications of a run, as `event` names, once `count` have arrived. */
async function hookEvents(runId: string, count: number): Promise<{ event: string; body: Record<string, unknown>; signatureValid?: boolean }[]> {
  return pollUntil(() => {
    const got = receiver.received('/hook').filter((r) => ((r.json as { run?: { id?: string } }).run?.id ?? '') === runId);
    return got.length >= count ? got.map((r) => ({ event: String((r.json as { event: string }).event), body: r.json as Record<string, unknown>, ...(r.signatureValid !== undefined ? { signatureValid: r.signatureValid } : {}) })) : undefined;
  }, `${count} notifications of run ${runId}`, 15_000);
}

describe('escalation', () => {
  it('verification not resolved → follow-up awaiting approval, linked both ways; the target is held until ack', async () => {
    prom.set('still_slow{deployment="web"} > 0', [{ metric: { deployment: 'web' }, value: 1 }]);
    const labels = { alertname: 'LLMHighLatencyP95', namespace: 'ml', deployment: 'web' };
    const first = await fire(labels);
    const run = await waitTerminal(rig.main, first.runId!, 30_000);
    expect(run.status).toBe('succeeded');
    const escalated = await pollUntil(async () => {
      const r = await rig.main.runs.get(run.id);
      return r?.escalations?.length ? r : undefined;
    }, 'the escalation', 15_000);
    expect(escalated.verification?.result).toBe('not_resolved');
    const followUp = (await rig.main.runs.get(escalated.escalations![0]!))!;
    expect(followUp).toMatchObject({
      status: 'awaiting_approval',
      playbook: 'scale-replicas',
      target: 'deployment/ml/web',
      escalatedFrom: run.id,
      approval: { requiredBy: 'escalation' },
      trigger: { source: 'escalation', rule: 'latency' },
      params: { namespace: 'ml', kind: 'Deployment', name: 'web', step: 2, maxReplicas: 12 },
    });
    expect(followUp.trigger.alert?.labels).toEqual(labels);
    const entry = (await auditOf(run.id)).find((e) => e.type === 'escalation');
    expect(entry).toMatchObject({ reason: 'verify_failed', followUpRunId: followUp.id, held: true });
    const metrics = await (await fetch(`${rig.main.url}/metrics`)).text();
    expect(metricValue(metrics, 'remediator_escalations_total', { rule: 'latency', reason: 'verify_failed' })).toBe(1);

    // The rule's channel heard the run start and succeed, then the escalation; all signed.
    const heard = await hookEvents(run.id, 3);
    expect(heard.map((h) => h.event)).toEqual(['started', 'succeeded', 'escalation']);
    expect(heard.every((h) => h.signatureValid)).toBe(true);
    const escalation = heard[2]!.body as { link: string; detail?: string; alert: { labels: Record<string, string> } };
    expect(escalation.link).toBe(`https://remediator.example.internal/ui/#/runs/${run.id}`);
    expect(escalation.detail).toContain('verification not resolved');
    expect(escalation.alert.labels).toEqual(labels);
    expect((await hookEvents(followUp.id, 1)).map((h) => h.event)).toEqual(['awaiting_approval']);

    // Held: the same rule does not act on the target again, whatever the alert says.
    prom.set('still_slow{deployment="web"} > 0', []);
    const held = await fire(labels);
    expect(await blockedGuard(held)).toBe('escalated');
    expect((await hookEvents(held.runId!, 1)).map((h) => h.event)).toEqual(['blocked']);

    // The follow-up, once approved, acts (it belongs to the escalation, not to the held rule).
    const before = replicas('web');
    expect((await post(`/api/v1/runs/${followUp.id}/approve`, { reason: 'memory looks fine, scale harder' })).status).toBe(200);
    const done = await waitTerminal(rig.main, followUp.id, 30_000);
    expect(done.status).toBe('succeeded');
    expect(replicas('web')).toBe(before + 2);

    // Acknowledged: the rule may act again.
    expect((await post(`/api/v1/runs/${run.id}/ack`, { reason: 'handled' })).body).toMatchObject({ id: run.id, target: 'deployment/ml/web', rule: 'latency', released: true });
    expect((await post(`/api/v1/runs/${run.id}/ack`, { reason: 'again' })).status).toBe(409);
    const again = await fire(labels);
    expect(again.decision).toBe('enqueued');
    expect((await waitTerminal(rig.main, again.runId!, 30_000)).status).toBe('succeeded');
    const ack = (await auditOf(run.id)).find((e) => e.type === 'operator_action' && e.action === 'ack');
    expect(ack).toMatchObject({ actor: 'alice', reason: 'handled', target: 'deployment/ml/web' });
  });

  it('afterRepeats: the third succeeded run on one target escalates; the follow-up runs without approval; the target is held', async () => {
    const labels = { alertname: 'Flapping', namespace: 'ml', deployment: 'llm' };
    const runs: Run[] = [];
    for (let i = 0; i < 3; i++) {
      const d = await fire(labels);
      expect(d.decision).toBe('enqueued');
      runs.push(await waitTerminal(rig.main, d.runId!, 30_000));
    }
    expect(runs.map((r) => r.status)).toEqual(['succeeded', 'succeeded', 'succeeded']);
    const third = await pollUntil(async () => {
      const r = await rig.main.runs.get(runs[2]!.id);
      return r?.escalations?.length ? r : undefined;
    }, 'the escalation', 10_000);
    expect((await rig.main.runs.get(runs[1]!.id))!.escalations).toBeUndefined();
    const followUp = await waitTerminal(rig.main, third.escalations![0]!, 30_000);
    expect(followUp).toMatchObject({ status: 'succeeded', escalatedFrom: third.id, params: { step: 3 } });
    expect((await auditOf(third.id)).find((e) => e.type === 'escalation')).toMatchObject({ reason: 'repeats', held: true });
    expect(await blockedGuard(await fire(labels))).toBe('escalated');
    // Acking through the follow-up works too.
    expect((await post(`/api/v1/runs/${followUp.id}/ack`, { reason: 'raised the budget instead' })).status).toBe(200);
    expect((await fire(labels)).decision).toBe('enqueued');
  });

  it('verification error: notifies only (an escalation entry), no follow-up, nothing held', async () => {
    prom.set('still_slow{deployment="oomy"} > 0', [{ metric: {}, value: 1 }]);
    prom.injectFault({ status: 503, times: 1000, query: 'still_slow{deployment="oomy"} > 0' });
    try {
      const labels = { alertname: 'LLMHighLatencyP95', namespace: 'ml', deployment: 'oomy' };
      const d = await fire(labels);
      const run = await waitTerminal(rig.main, d.runId!, 30_000);
      const ended = await pollUntil(async () => {
        const r = await rig.main.runs.get(run.id);
        return r?.verification?.result === 'error' ? r : undefined;
      }, 'verification error', 15_000);
      expect(ended.escalations).toBeUndefined();
      const entry = await pollUntil(async () => (await auditOf(run.id)).find((e) => e.type === 'escalation'), 'the escalation entry', 5000);
      expect(entry).toMatchObject({ reason: 'verify_error', held: false });
      expect(entry.followUpRunId).toBeUndefined();
      expect((await fire(labels)).decision).toBe('enqueued');
    } finally {
      prom.clearFaults();
    }
  });

  it('channels that hang for 30 s do not delay runs: median run time with them within 100 ms of without', async () => {
    const durations: Record<'quiet' | 'noisy', number[]> = { quiet: [], noisy: [] };
    for (let i = 0; i < 5; i++) {
      for (const [alertname, deployment, key] of [['Quiet', 'web', 'quiet'], ['Noisy', 'llm', 'noisy']] as const) {
        const d = await fire({ alertname, namespace: 'ml', deployment });
        expect(d.decision).toBe('enqueued');
        const run = await waitTerminal(rig.main, d.runId!, 30_000);
        expect(run.status).toBe('succeeded');
        durations[key].push(Date.parse(run.finishedAt!) - Date.parse(run.startedAt!));
      }
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    // Every run finished while its notifications were still hanging.
    expect(receiver.hangingCount).toBeGreaterThan(0);
    console.log(`run time, median of 5: without channels ${median(durations.quiet)} ms, with two hanging channels ${median(durations.noisy)} ms`);
    expect(median(durations.noisy) - median(durations.quiet)).toBeLessThan(100);
  });
});
