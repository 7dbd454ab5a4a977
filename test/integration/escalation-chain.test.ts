/**
 * The escalation chain of an OOM loop, end to end on the simulated cluster (issue 11): an OOM
 * restart whose verification fails → a signed notification → a raise-memory-limit follow-up
 * awaiting approval → approved by another operator → the limit raised 1.5× and rolled out; and
 * a third OOM restart within afterRepeats escalating the same way, the target held until ack.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Run } from '../../src/domain/run.js';
import { SimPrometheus } from '../../src/sim/sim-prometheus.js';
import { notification } from '../helpers/alerts.js';
import { NotificationReceiver } from '../helpers/notification-receiver.js';
import { ALERTMANAGER_TOKEN, OPERATOR2_TOKEN, OPERATOR_TOKEN, startScenarioRig, waitTerminal, type ScenarioRig } from '../helpers/fault-rig.js';
import { metricValue } from '../helpers/metrics-text.js';
import { pollUntil } from '../helpers/sim-helpers.js';

const SECRET = 'chain-hook-secret-41d9';
const OOM_AGAIN = 'oom_again{namespace="ml", container="main"} > 0';
const RULES = `
  - name: oom
    matchers: ['alertname="KubePodOOMKilled"']
    playbook: restart-oom-pod
    params: { waitForReadySeconds: 30 }
    verify: { within: 2s, interval: 500ms, query: 'oom_again{namespace="{{ labels.namespace }}", container="{{ labels.container }}"} > 0' }
    notify: [hook]
    escalate:
      notify: [hook]
      afterRepeats: { count: 3, within: 6h }
      playbook: { name: raise-memory-limit, params: { factor: 1.5, maxLimit: 1Gi, timeoutSeconds: 30 } }
`;

let rig: ScenarioRig;
let prom: SimPrometheus;
let receiver: NotificationReceiver;
let episode = 0;

function oomyPod(): string {
  const pods = rig.sim.list('Pod').filter((p) => p.metadata.namespace === 'ml' && String(p.metadata.name).startsWith('oomy-') && !p.metadata.deletionTimestamp);
  return String(pods.at(-1)!.metadata.name);
}

/** The current oomy pod is OOM-killed; Alertmanager says so. */
async function oomAlert(): Promise<{ decision: string; runId?: string; guard?: string }> {
  const pod = oomyPod();
  rig.sim.markOOMKilled('ml', pod, 'main');
  episode += 1;
  const res = await fetch(`${rig.main.url}/api/v1/alerts`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${ALERTMANAGER_TOKEN}` },
    body: JSON.stringify(notification([{ labels: { alertname: 'KubePodOOMKilled', namespace: 'ml', pod, container: 'main', severity: 'warning' }, startsAt: new Date(Date.UTC(2026, 11, 7, 12, 0, episode)).toISOString() }])),
  });
  return ((await res.json()) as { decisions: { decision: string; runId?: string; guard?: string }[] }).decisions[0]!;
}

async function post(token: string, path: string, body: object): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${rig.main.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

function memoryLimit(): string {
  const spec = rig.sim.get('Deployment', 'ml', 'oomy')!.spec as { template: { spec: { containers: { resources?: { limits?: { memory?: string } } }[] } } };
  return String(spec.template.spec.containers[0]!.resources?.limits?.memory);
}

const escalatedRun = (runId: string) =>
  pollUntil(async () => {
    const r = await rig.main.runs.get(runId);
    return r?.escalations?.length ? r : undefined;
  }, `run ${runId} to escalate`, 15_000);

beforeAll(async () => {
  prom = new SimPrometheus();
  await prom.start();
  receiver = await NotificationReceiver.start();
  receiver.expectSignature('/hook', SECRET);
  const dir = mkdtempSync(join(tmpdir(), 'remediator-chain-'));
  writeFileSync(join(dir, 'secret'), SECRET);
  rig = await startScenarioRig({
    options: {
      rules: RULES,
      extra: [
        `prometheus: { url: '${prom.url}', timeoutSeconds: 1, retries: 0 }`,
        `ui: { externalUrl: 'https://remediator.example.internal' }`,
        `notifications: [{ name: hook, type: webhook, url: '${receiver.url('/hook')}', secretFile: '${dir}/secret' }]`,
      ].join('\n'),
    },
  });
}, 60_000);

afterAll(async () => {
  await receiver?.close();
  await rig?.stop();
  await prom?.close();
});

describe('the OOM escalation chain', () => {
  it('verification fails → notification → raise-memory-limit awaiting approval → approved by another operator → 64Mi raised to 96Mi and rolled out', async () => {
    prom.set(OOM_AGAIN, [{ metric: { container: 'main' }, value: 1 }]);
    const d = await oomAlert();
    expect(d.decision).toBe('enqueued');
    const restart = await waitTerminal(rig.main, d.runId!, 30_000);
    expect(restart.status).toBe('succeeded');
    const origin = await escalatedRun(restart.id);
    expect(origin.verification?.result).toBe('not_resolved');

    const escalation = await pollUntil(() => receiver.received('/hook').find((r) => (r.json as { event: string; run: { id: string } }).event === 'escalation' && (r.json as { run: { id: string } }).run.id === restart.id), 'the escalation notification', 10_000);
    expect(escalation.signatureValid).toBe(true);
    const body = escalation.json as { detail: string; link: string; alert: { labels: Record<string, string>; annotations: Record<string, string> } };
    expect(body.detail).toContain('verification not resolved');
    expect(body.link).toBe(`https://remediator.example.internal/ui/#/runs/${restart.id}`);
    expect(body.alert.annotations).toEqual({ summary: 'test' });

    const followUp = (await rig.main.runs.get(origin.escalations![0]!))!;
    expect(followUp).toMatchObject({ status: 'awaiting_approval', playbook: 'raise-memory-limit', target: 'deployment/ml/oomy', escalatedFrom: restart.id, trigger: { source: 'escalation' } });
    expect(memoryLimit()).toBe('64Mi');
    expect((await post(OPERATOR2_TOKEN, `/api/v1/runs/${followUp.id}/approve`, { reason: 'OOM loop: give it room' })).status).toBe(200);
    const raised = await waitTerminal(rig.main, followUp.id, 60_000);
    expect(raised).toMatchObject({ status: 'succeeded', changed: true, approval: { decision: 'approved', by: 'bob' }, health: { result: 'healthy' } });
    expect(memoryLimit()).toBe('96Mi');
    const metrics = await (await fetch(`${rig.main.url}/metrics`)).text();
    expect(metricValue(metrics, 'remediator_actions_total', { playbook: 'raise-memory-limit', action: 'set_memory_limit', result: 'ok' })).toBe(1);
    expect(metricValue(metrics, 'remediator_runs_total', { playbook: 'raise-memory-limit', source: 'escalation', status: 'succeeded' })).toBe(1);
    expect(metricValue(metrics, 'remediator_notifications_total', { channel: 'hook', result: 'ok' })).toBeGreaterThanOrEqual(3);

    // Held until acknowledged: the next OOM alert on oomy is blocked.
    const held = await oomAlert();
    const guard = held.decision === 'blocked' ? held.guard : (await waitTerminal(rig.main, held.runId!, 30_000)).guard?.guard;
    expect(guard).toBe('escalated');
    expect((await post(OPERATOR_TOKEN, `/api/v1/runs/${restart.id}/ack`, { reason: 'limit raised' })).status).toBe(200);
  });

  it('a third OOM restart within afterRepeats escalates the same way; the target stays held until ack', async () => {
    prom.set(OOM_AGAIN, []);
    const restarts: Run[] = [];
    // The first chain's restart already counted once before its escalation reset the count: three fresh ones now.
    for (let i = 0; i < 3; i++) {
      const d = await oomAlert();
      expect(d.decision).toBe('enqueued');
      restarts.push(await waitTerminal(rig.main, d.runId!, 30_000));
    }
    expect(restarts.map((r) => r.status)).toEqual(['succeeded', 'succeeded', 'succeeded']);
    const third = await escalatedRun(restarts[2]!.id);
    const followUp = (await rig.main.runs.get(third.escalations![0]!))!;
    expect(followUp).toMatchObject({ status: 'awaiting_approval', playbook: 'raise-memory-limit', escalatedFrom: third.id });
    const notified = await pollUntil(() => receiver.received('/hook').find((r) => (r.json as { event: string; run: { id: string } }).event === 'escalation' && (r.json as { run: { id: string } }).run.id === third.id), 'the escalation notification', 10_000);
    expect((notified.json as { detail: string }).detail).toContain('3 succeeded runs of rule oom on deployment/ml/oomy');

    for (let i = 0; i < 2; i++) {
      const held = await oomAlert();
      const guard = held.decision === 'blocked' ? held.guard : (await waitTerminal(rig.main, held.runId!, 30_000)).guard?.guard;
      expect(guard).toBe('escalated');
    }
    expect((await post(OPERATOR_TOKEN, `/api/v1/runs/${followUp.id}/ack`, { reason: 'watching it' })).body).toMatchObject({ id: third.id, released: true });
    const free = await oomAlert();
    expect(free.decision).toBe('enqueued');
    expect((await waitTerminal(rig.main, free.runId!, 30_000)).status).toBe('succeeded');
  });
});
